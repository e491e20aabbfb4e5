import Foundation
import ModelIO
@testable import Runtime
import Testing

/// Pillow's BILINEAR resize (with its antialiasing) as the reference, from
/// Tools/goldens/image_goldens.py.
@Suite("Vision: resize against Pillow")
struct VisionResizeTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let width: Int
        let height: Int
        let box: ImageResampler.Box
        let floatPlanar: [Double]
        let eightBitInterleaved: [Int]
        var testDescription: String { name }
    }

    static let cases: [Case] = {
        guard let root = try? VisionFixtures.json("resize-golden.json") else { return [] }
        return (root["cases"]?.arrayValue ?? []).compactMap { entry in
            let box = VisionFixtures.doubles(entry["box"])
            guard let name = entry["name"]?.stringValue, let width = entry["width"]?.intValue,
                  let height = entry["height"]?.intValue, box.count == 4 else { return nil }
            return Case(name: name, width: width, height: height,
                        box: ImageResampler.Box(left: box[0], top: box[1], right: box[2], bottom: box[3]),
                        floatPlanar: VisionFixtures.doubles(entry["float_planar"]),
                        eightBitInterleaved: VisionFixtures.integers(entry["eight_bit_interleaved"]))
        }
    }()

    static func sourcePlanes() throws -> (planes: [Float], width: Int, height: Int) {
        let image = try ImageDecoder.decode(path: VisionFixtures.path("rgb.png"))
        var planes = [Float](repeating: 0, count: image.width * image.height * 3)
        for pixel in 0..<image.width * image.height {
            for channel in 0..<3 {
                planes[channel * image.width * image.height + pixel] = Float(image.samples[pixel * 3 + channel])
            }
        }
        return (planes, image.width, image.height)
    }

    @Test("six golden cases are present")
    func casesPresent() { #expect(Self.cases.count == 6) }

    /// Float path: Pillow mode "F" per channel. Tolerance 1e-3 on the 0...255 scale
    /// (float32 rounding of the two passes; measured about 3e-5).
    @Test("float resize matches Pillow's mode F within 1e-3", arguments: cases)
    func floatResize(golden: Case) throws {
        let source = try Self.sourcePlanes()
        let result = ImageResampler.resample(planes: source.planes, width: source.width, height: source.height,
                                             channels: 3, box: golden.box, outputWidth: golden.width,
                                             outputHeight: golden.height)
        #expect(result.count == golden.floatPlanar.count)
        let largest = zip(result, golden.floatPlanar).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(largest <= 1e-3, "largest difference \(largest)")
    }

    /// 8-bit path: Pillow's fixed-point coefficients against our Double ones, both rounding
    /// after each pass. Tolerance one step of 1/255, on at most 6% of the samples (measured:
    /// at most 5.1%, in the enlarging cases where many values sit on a half step).
    @Test("8-bit resize matches Pillow's RGB resize within one step", arguments: cases)
    func eightBitResize(golden: Case) throws {
        let source = try Self.sourcePlanes()
        let result = ImageResampler.resample(planes: source.planes, width: source.width, height: source.height,
                                             channels: 3, box: golden.box, outputWidth: golden.width,
                                             outputHeight: golden.height, roundsToEightBits: true)
        let pixels = golden.width * golden.height
        var largest = 0
        var differing = 0
        for pixel in 0..<pixels {
            for channel in 0..<3 {
                let difference = abs(Int(result[channel * pixels + pixel]) - golden.eightBitInterleaved[pixel * 3 + channel])
                largest = max(largest, difference)
                if difference > 0 { differing += 1 }
            }
        }
        #expect(largest <= 1, "largest difference \(largest) steps")
        #expect(differing * 100 <= pixels * 3 * 6, "\(differing) of \(pixels * 3) samples differ by a step")
    }

    @Test("without antialiasing, shrinking by two samples between pixel pairs")
    func plainBilinear() {
        let planes: [Float] = [0, 10, 20, 30, 40, 50, 60, 70]
        let result = ImageResampler.resample(planes: planes, width: 8, height: 1, channels: 1,
                                             box: .init(left: 0, top: 0, right: 8, bottom: 1),
                                             outputWidth: 4, outputHeight: 1, antialias: false)
        #expect(result == [5, 25, 45, 65])
        let smoothed = ImageResampler.resample(planes: planes, width: 8, height: 1, channels: 1,
                                               box: .init(left: 0, top: 0, right: 8, bottom: 1),
                                               outputWidth: 4, outputHeight: 1)
        // The widened triangle (support 2) reads four pixels per output; the edges renormalise.
        #expect(abs(smoothed[1] - 25) < 1e-5 && abs(smoothed[0] - 12.5 / 1.75) < 1e-4)
    }
}

import AimetTestSupport
import Foundation
@testable import ModelIO
import Testing

/// Where the image fixtures live and what Pillow decoded from them.
enum ImageFixtures {
    static var folder: URL { TestLocations.fixtures.appendingPathComponent("images") }

    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
    }

    struct Expected: Sendable, CustomTestStringConvertible {
        let file: String
        let width: Int
        let height: Int
        let channels: Int
        var testDescription: String { file }
    }

    static let expected: [Expected] = {
        let root = try? JSONParser.parse([UInt8](Data(contentsOf: folder.appendingPathComponent("decoder-golden.json"))),
                                         path: "decoder-golden.json")
        return (root?["cases"]?.arrayValue ?? []).compactMap { entry in
            guard let file = entry["file"]?.stringValue, let width = entry["width"]?.intValue,
                  let height = entry["height"]?.intValue, let channels = entry["channels"]?.intValue else { return nil }
            return Expected(file: file, width: width, height: height, channels: channels)
        }
    }()
}

@Suite("Image decoder")
struct ImageDecoderTests {
    @Test("the golden list covers every layout")
    func goldenListIsComplete() {
        #expect(ImageFixtures.expected.count == 13)
    }

    /// PNG must match Pillow exactly; JPEG within one step (libjpeg-turbo versions may differ
    /// in the last bit of the upsampling), which these fixtures reach exactly as well.
    @Test("decodes every PNG and JPEG layout like Pillow", arguments: ImageFixtures.expected)
    func decodesLikePillow(expected: ImageFixtures.Expected) throws {
        let image = try ImageDecoder.decode(path: ImageFixtures.path(expected.file))
        #expect(image.width == expected.width)
        #expect(image.height == expected.height)
        #expect(image.channels == expected.channels)
        let reference = try ImageFixtures.bytes(expected.file + ".u8")
        #expect(image.samples.count == reference.count)
        let largest = zip(image.samples, reference).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(largest <= (expected.file.hasSuffix(".jpg") ? 1 : 0), "largest difference \(largest)")
    }

    @Test("the format comes from the content, not the name")
    func formatFromContent() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("aimet-image-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let misnamed = folder.appendingPathComponent("actually-a-png.jpg")
        try Data(try ImageFixtures.bytes("rgb.png")).write(to: misnamed)
        let image = try ImageDecoder.decode(path: misnamed.path)
        #expect(image.channels == 3 && image.width == 24)
    }

    @Test("DecodedImage rejects inconsistent sizes")
    func decodedImageValidation() {
        #expect(DecodedImage(width: 2, height: 2, channels: 3, samples: [UInt8](repeating: 0, count: 12)) != nil)
        #expect(DecodedImage(width: 2, height: 2, channels: 3, samples: [UInt8](repeating: 0, count: 11)) == nil)
        #expect(DecodedImage(width: 0, height: 2, channels: 1, samples: []) == nil)
        #expect(DecodedImage(width: 1, height: 1, channels: 5, samples: [UInt8](repeating: 0, count: 5)) == nil)
    }
}

import Foundation
@testable import ModelIO
import Testing

/// Damaged files built from the real fixtures: cut short, bytes flipped, empty, not images.
@Suite("Image decoder bad input")
struct ImageDecoderBadInputTests {
    private func decode(_ bytes: [UInt8], name: String = "damaged") throws -> DecodedImage {
        try bytes.withUnsafeBytes { try ImageDecoder.decode(bytes: $0, path: name) }
    }

    @Test("an empty file is not an image and the error names it")
    func emptyFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("aimet-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("empty.png").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        #expect(throws: ModelIOError.notAnImage(path: path, reason: "the file is empty")) {
            try ImageDecoder.decode(path: path)
        }
    }

    @Test("a missing file is fileNotFound")
    func missingFile() {
        #expect(throws: ModelIOError.fileNotFound(path: "/nonexistent/photo.png")) {
            try ImageDecoder.decode(path: "/nonexistent/photo.png")
        }
    }

    @Test("text and other formats are not images", arguments: [
        Array("hello, this is a text file\n".utf8),
        Array("GIF89a".utf8) + [UInt8](repeating: 0, count: 20),
        [0x89, 0x50, 0x4E, 0x47],  // a PNG signature cut to four bytes
        [0xFF, 0xD8],              // a JPEG SOI without the next marker
    ])
    func notImages(bytes: [UInt8]) {
        #expect {
            try decode(bytes, name: "not-an-image")
        } throws: { error in
            guard case let .notAnImage(path, _)? = error as? ModelIOError else { return false }
            return path == "not-an-image"
        }
    }

    @Test("every proper prefix of a real image is a typed error naming the file",
          arguments: ["rgb.png", "interlaced.png", "palette-transparent.png", "rgb.jpg", "progressive.jpg", "grey.jpg"])
    func everyPrefixFails(file: String) throws {
        let bytes = try ImageFixtures.bytes(file)
        var truncatedCount = 0
        for length in 1..<bytes.count {
            do {
                _ = try decode(Array(bytes[0..<length]), name: file)
                Issue.record("\(file) cut to \(length) of \(bytes.count) bytes decoded")
            } catch let error as ModelIOError {
                #expect(error.description.hasPrefix(file), "\(error)")
                if case .truncated = error { truncatedCount += 1 }
            }
        }
        // Past the signature, nearly every cut is reported as truncation (a few land on a
        // chunk boundary whose length field is then read as garbage).
        #expect(truncatedCount >= (bytes.count - 16) * 9 / 10, "\(truncatedCount) of \(bytes.count - 1) cuts were .truncated")
    }

    @Test("a flipped byte in any PNG chunk fails its CRC", arguments: [16, 20, 29, 40, 100, 300, 700])
    func pngFlippedByte(offset: Int) throws {
        var bytes = try ImageFixtures.bytes("rgb.png")
        bytes[offset] ^= 0x5A
        #expect {
            try decode(bytes, name: "rgb.png")
        } throws: { error in
            guard case let .corruptImage(path, format, reason)? = error as? ModelIOError else { return false }
            return path == "rgb.png" && format == "PNG" && !reason.isEmpty
        }
    }

    @Test("damaged JPEG headers are typed errors")
    func jpegDamagedHeaders() throws {
        let original = try ImageFixtures.bytes("rgb.jpg")
        guard let frame = (0..<original.count - 1).first(where: { original[$0] == 0xFF && original[$0 + 1] == 0xC0 }),
              let huffman = (0..<original.count - 1).first(where: { original[$0] == 0xFF && original[$0 + 1] == 0xC4 })
        else {
            Issue.record("rgb.jpg has no SOF0 or DHT marker")
            return
        }
        var precision = original
        precision[frame + 4] = 12  // 12-bit samples: not supported by an 8-bit build
        var zeroHeight = original
        zeroHeight[frame + 5] = 0
        zeroHeight[frame + 6] = 0
        var huffmanLength = original
        huffmanLength[huffman + 2] = 0
        huffmanLength[huffman + 3] = 1
        var components = original
        components[frame + 9] = 9
        for (label, bytes) in [("precision", precision), ("zero height", zeroHeight),
                               ("Huffman table length", huffmanLength), ("component count", components)] {
            #expect(throws: ModelIOError.self, "\(label)") { try decode(bytes, name: "rgb.jpg") }
        }
    }

    @Test("damaged JPEG entropy data is an error, not a grey-filled image")
    func jpegDamagedScan() throws {
        let original = try ImageFixtures.bytes("rgb.jpg")
        guard let scan = (0..<original.count - 1).first(where: { original[$0] == 0xFF && original[$0 + 1] == 0xDA }) else {
            Issue.record("rgb.jpg has no SOS marker")
            return
        }
        let length = Int(original[scan + 2]) << 8 | Int(original[scan + 3])
        let dataStart = scan + 2 + length
        // A run of 0xFF 0xD0 (restart markers where none belong) inside the entropy-coded data.
        var bytes = original
        for offset in stride(from: dataStart + 20, to: dataStart + 60, by: 2) {
            bytes[offset] = 0xFF
            bytes[offset + 1] = 0xD3
        }
        #expect(throws: ModelIOError.self) { try decode(bytes, name: "rgb.jpg") }
    }

    @Test("single flipped bytes never crash: each file decodes or fails with a typed error",
          arguments: ["rgb.png", "rgb.jpg", "progressive.jpg"])
    func everyFlipIsSafe(file: String) throws {
        let original = try ImageFixtures.bytes(file)
        var failures = 0
        for offset in original.indices {
            var bytes = original
            bytes[offset] ^= 0xA5
            do {
                _ = try decode(bytes, name: file)
            } catch is ModelIOError {
                failures += 1
            }
        }
        if file.hasSuffix(".png") {
            #expect(failures == original.count, "PNG chunks carry CRCs: every flip must fail")
        } else {
            #expect(failures > 0)
        }
    }
}

import Foundation
@testable import ModelIO
import QuantCore
import Testing

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownVectors(input: String, digest: String) {
        #expect(SHA256.hexDigest(Array(input.utf8)) == digest)
    }

    @Test func incrementalUpdatesMatchOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var hasher = SHA256()
        for chunk in stride(from: 0, to: bytes.count, by: 37) {
            hasher.update(Array(bytes[chunk..<min(chunk + 37, bytes.count)]))
        }
        let incremental = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        #expect(incremental == SHA256.hexDigest(bytes))
        #expect(SHA256.hexDigest(Array(repeating: 0x61, count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite struct ElementConversionTests {
    @Test func everyDTypeDecodes() throws {
        let cases: [(DType, [UInt8], [Float])] = [
            (.float32, [0, 0, 0x80, 0x3F], [1]),
            (.float64, [0, 0, 0, 0, 0, 0, 0, 0xC0], [-2]),
            (.float16, [0x00, 0x3C], [1]),
            (.bfloat16, [0x80, 0x3F], [1]),
            (.int64, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [-1]),
            (.int32, [0x05, 0, 0, 0], [5]),
            (.int16, [0xFE, 0xFF], [-2]),
            (.int8, [0x80], [-128]),
            (.uint8, [0xFF], [255]),
            (.bool, [0, 1], [0, 1]),
        ]
        for (dtype, bytes, expected) in cases {
            let values = try bytes.withUnsafeBytes {
                try ElementConversion.floats(from: $0, dtype: dtype, tensor: "t", path: "p")
            }
            #expect(values == expected, "\(dtype)")
        }
    }

    @Test func ragged_byteCountIsAnError() {
        #expect(throws: ModelIOError.self) {
            try [UInt8](repeating: 0, count: 5).withUnsafeBytes {
                try ElementConversion.floats(from: $0, dtype: .float32, tensor: "t", path: "p")
            }
        }
    }
}

@Suite struct AtomicFileTests {
    @Test func failedWriteLeavesNothing() throws {
        let folder = try FixturePaths.temporaryFolder()
        let target = folder.appendingPathComponent("out.bin").path
        struct Boom: Error {}
        #expect(throws: ModelIOError.self) {
            try AtomicFile.write(to: target) { temporary in
                _ = FileManager.default.createFile(atPath: temporary, contents: Data([1, 2, 3]))
                throw Boom()
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func writeReplacesExistingFile() throws {
        let folder = try FixturePaths.temporaryFolder()
        let target = folder.appendingPathComponent("out.bin").path
        try AtomicFile.write(Data([1]), to: target)
        try AtomicFile.write(Data([2, 3]), to: target)
        #expect(FileManager.default.contents(atPath: target) == Data([2, 3]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["out.bin"])
    }
}

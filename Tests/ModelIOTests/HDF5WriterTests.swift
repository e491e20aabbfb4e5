import Foundation
@testable import ModelIO
import QuantCore
import Testing

@Suite struct HDF5WriterTests {
    /// Random tensors of every dtype the round trip covers, with '/' in most names.
    static func sampleTensors(seed: UInt64) throws -> [RawTensor] {
        var generator = SeededGenerator(seed: seed)
        func randomFloats(_ count: Int) -> [Float] {
            (0..<count).map { _ in Float.random(in: -4...4, using: &generator) }
        }
        func randomBytes(_ count: Int) -> [UInt8] {
            (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }
        func raw(_ name: String, _ dtype: DType, _ shape: [Int], _ bytes: [UInt8]) throws -> RawTensor {
            try RawTensor(info: TensorInfo(name: name, dtype: dtype, shape: shape), bytes: bytes)
        }
        let doubles = (0..<10).map { _ in Double.random(in: -1e6...1e6, using: &generator) }
        let halves = randomFloats(12).map { HalfPrecision.halfBits(from: $0) }
        let brains = randomFloats(6).map { HalfPrecision.bfloat16Bits(from: $0) }
        return [
            try raw("encoder/layer.0/weight", .float32, [4, 3], randomFloats(12).withUnsafeBytes { Array($0) }),
            try raw("encoder/layer.0/bias", .float64, [10], doubles.withUnsafeBytes { Array($0) }),
            try raw("encoder/layer.1/kernel:0", .float16, [2, 2, 3], halves.withUnsafeBytes { Array($0) }),
            try raw("encoder/layer.1/positions", .int64, [2, 4], randomBytes(64)),
            try raw("head/counts", .int32, [5], randomBytes(20)),
            try raw("head/small", .int8, [3, 3], randomBytes(9)),
            try raw("pixels", .uint8, [2, 8], randomBytes(16)),
            try raw("int16", .int16, [3], randomBytes(6)),
            try raw("brain", .bfloat16, [6], brains.withUnsafeBytes { Array($0) }),
            try raw("mask", .bool, [4], [1, 0, 0, 1]),
            try raw("scale", .float32, [], Float(0.25).bitPattern.littleEndianBytes),
            try raw("nothing", .float32, [0, 5], []),
        ]
    }

    static let attributes = ["format": "aimet-swift.test", "note": "ünïcode ✓", "empty": ""]

    @Test func roundTripKeepsNamesOrderDTypesValuesAndAttributes() throws {
        let folder = try FixturePaths.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let tensors = try Self.sampleTensors(seed: 42)
        let path = folder.appendingPathComponent("roundtrip.h5").path
        try HDF5Writer.write(tensors, attributes: Self.attributes, to: path)
        let store = try HDF5Store(path: path)
        #expect(store.format == .plainHDF5)
        #expect(store.tensors == tensors.map(\.info))
        for tensor in tensors {
            #expect(try store.rawTensor(named: tensor.info.name) == tensor, "\(tensor.info.name)")
        }
        #expect(store.metadata == .object(JSONObject(Self.attributes.keys.sorted().map { ($0, .string(Self.attributes[$0]!)) })))
        try keepScratchCopy(tensors, file: path)
    }

    @Test func identicalInputGivesIdenticalFiles() throws {
        let folder = try FixturePaths.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let tensors = try Self.sampleTensors(seed: 7)
        let first = folder.appendingPathComponent("first.h5").path
        let second = folder.appendingPathComponent("second.h5").path
        try HDF5Writer.write(tensors, attributes: Self.attributes, to: first)
        try HDF5Writer.write(tensors, attributes: Self.attributes, to: second)
        let firstBytes = try Data(contentsOf: URL(fileURLWithPath: first))
        #expect(firstBytes == (try Data(contentsOf: URL(fileURLWithPath: second))))
        try HDF5Writer.write(tensors, attributes: Self.attributes, to: second)
        #expect(firstBytes == (try Data(contentsOf: URL(fileURLWithPath: second))), "overwriting gives the same file")
        let others = try Self.sampleTensors(seed: 8)
        try HDF5Writer.write(others, attributes: Self.attributes, to: second)
        #expect(firstBytes != (try Data(contentsOf: URL(fileURLWithPath: second))))
    }

    @Test(arguments: [
        ["", "a"], ["/a"], ["a/"], ["a//b"], ["a/./b"], ["a/../b"], ["x", "x"], ["a", "a/b"], ["a/b", "a"],
    ])
    func unusableNamesAreRejectedAndNothingIsWritten(names: [String]) throws {
        let folder = try FixturePaths.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("bad.h5").path
        let tensors = try names.map {
            try RawTensor(info: TensorInfo(name: $0, dtype: .uint8, shape: [1]), bytes: [7])
        }
        #expect(throws: ModelIOError.self) { try HDF5Writer.write(tensors, attributes: [:], to: path) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func missingFolderIsWriteFailed() throws {
        let path = "/nonexistent/aimet-swift/out.h5"
        do {
            try HDF5Writer.write([], attributes: [:], to: path)
            Issue.record("writing into a missing folder succeeded")
        } catch let ModelIOError.writeFailed(errorPath, _) {
            #expect(errorPath == path)
        }
    }

    @Test func emptyFileRoundTrips() throws {
        let folder = try FixturePaths.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("empty.h5").path
        try HDF5Writer.write([], attributes: [:], to: path)
        let store = try HDF5Store(path: path)
        #expect(store.tensors.isEmpty)
        #expect(store.metadata == .object(JSONObject()))
    }

    /// With `AIMET_SWIFT_HDF5_SCRATCH=<folder>`, leaves `roundtrip.h5` and
    /// `roundtrip-expected.json` there for `Tools/goldens/verify_hdf5_written.py`.
    private func keepScratchCopy(_ tensors: [RawTensor], file: String) throws {
        guard let scratch = ProcessInfo.processInfo.environment["AIMET_SWIFT_HDF5_SCRATCH"], !scratch.isEmpty else { return }
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let destination = URL(fileURLWithPath: scratch).appendingPathComponent("roundtrip.h5")
        try? FileManager.default.removeItem(at: destination)
        try FileManager.default.copyItem(at: URL(fileURLWithPath: file), to: destination)
        let entries: [JSONValue] = try tensors.map { tensor in
            let values = try tensor.bytes.withUnsafeBytes {
                try ElementConversion.floats(from: $0, dtype: tensor.info.dtype, tensor: tensor.info.name, path: file)
            }
            return .object(JSONObject([
                ("name", .string(tensor.info.name)),
                ("dtype", .string(tensor.info.dtype.rawValue)),
                ("shape", .array(tensor.info.shape.map { .integer($0) })),
                ("sha256_raw", .string(SHA256.hexDigest(tensor.bytes))),
                ("sha256_float32", .string(values.withUnsafeBytes { SHA256.hexDigest($0) })),
            ]))
        }
        let attributes = JSONObject(Self.attributes.keys.sorted().map { ($0, .string(Self.attributes[$0]!)) })
        let document = JSONValue.object(JSONObject([("attributes", .object(attributes)), ("tensors", .array(entries))]))
        let text = JSONWriter(sortedKeys: false, indent: 1).string(document) + "\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: scratch).appendingPathComponent("roundtrip-expected.json"))
    }
}

extension UInt32 {
    fileprivate var littleEndianBytes: [UInt8] {
        withUnsafeBytes(of: littleEndian) { Array($0) }
    }
}

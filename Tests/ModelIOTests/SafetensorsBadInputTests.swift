import Foundation
@testable import ModelIO
import QuantCore
import Testing

/// One hostile safetensors file: its header text (or raw bytes), the error case it must
/// produce, and the tensor the message must name.
struct HostileSafetensorsCase: Sendable, CustomTestStringConvertible {
    let label: String
    let bytes: [UInt8]
    let expectedCase: String
    let tensor: String?

    init(_ label: String, header: String, dataCount: Int = 0, lengthField: UInt64? = nil,
         expect expectedCase: String, tensor: String? = nil) {
        self.label = label
        self.bytes = SafetensorsFileBuilder.bytes(header: header, dataCount: dataCount, lengthField: lengthField)
        self.expectedCase = expectedCase
        self.tensor = tensor
    }

    init(_ label: String, bytes: [UInt8], expect expectedCase: String) {
        self.label = label
        self.bytes = bytes
        self.expectedCase = expectedCase
        self.tensor = nil
    }

    var testDescription: String { label }

    static func entry(_ name: String, dtype: String = "F32", shape: String, offsets: String) -> String {
        #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
    }

    static let all: [HostileSafetensorsCase] = [
        .init("empty file", bytes: [], expect: "truncated"),
        .init("3-byte file", bytes: [1, 0, 0], expect: "truncated"),
        .init("header length larger than the file", header: "{}", lengthField: 4096, expect: "truncated"),
        .init("header length 2^63", header: "{}", lengthField: 1 << 63, expect: "invalidHeader"),
        .init("header length over 100 MB", header: "{}", lengthField: 100_000_001, expect: "invalidHeader"),
        .init("header not JSON", header: "this is not json", expect: "invalidJSON"),
        .init("header JSON with trailing garbage", header: "{} x", expect: "invalidJSON"),
        .init("header invalid UTF-8", bytes: [4, 0, 0, 0, 0, 0, 0, 0, 0x22, 0xFF, 0x22, 0x20], expect: "invalidJSON"),
        .init("deep nesting", header: String(repeating: "[", count: 10_000), expect: "invalidJSON"),
        .init("deep nesting inside an entry",
              header: #"{"t":"# + String(repeating: "[", count: 10_000), expect: "invalidJSON"),
        .init("header is an array", header: "[]", expect: "invalidHeader"),
        .init("entry not an object", header: #"{"t":5}"#, expect: "invalidHeader", tensor: "t"),
        .init("missing dtype", header: #"{"t":{"shape":[1],"data_offsets":[0,4]}}"#, dataCount: 4,
              expect: "invalidHeader", tensor: "t"),
        .init("dtype not a string", header: #"{"t":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}"#, dataCount: 4,
              expect: "invalidHeader", tensor: "t"),
        .init("unknown dtype F8", header: "{" + entry("t", dtype: "F8", shape: "[1]", offsets: "[0,1]") + "}",
              dataCount: 1, expect: "unknownDType", tensor: "t"),
        .init("missing shape", header: #"{"t":{"dtype":"F32","data_offsets":[0,4]}}"#, dataCount: 4,
              expect: "invalidHeader", tensor: "t"),
        .init("shape not an array", header: "{" + entry("t", shape: "4", offsets: "[0,16]") + "}", dataCount: 16,
              expect: "invalidHeader", tensor: "t"),
        .init("shape 1e400", header: "{" + entry("t", shape: "[1e400]", offsets: "[0,4]") + "}", dataCount: 4,
              expect: "invalidHeader", tensor: "t"),
        .init("shape 99999999999999999999",
              header: "{" + entry("t", shape: "[99999999999999999999]", offsets: "[0,4]") + "}", dataCount: 4,
              expect: "invalidHeader", tensor: "t"),
        .init("shape 2.0", header: "{" + entry("t", shape: "[2.0]", offsets: "[0,8]") + "}", dataCount: 8,
              expect: "invalidHeader", tensor: "t"),
        .init("shape string", header: "{" + entry("t", shape: #"["2"]"#, offsets: "[0,8]") + "}", dataCount: 8,
              expect: "invalidHeader", tensor: "t"),
        .init("negative shape", header: "{" + entry("t", shape: "[-2,-2]", offsets: "[0,16]") + "}", dataCount: 16,
              expect: "invalidHeader", tensor: "t"),
        .init("shape product overflow",
              header: "{" + entry("t", shape: "[4294967296,4294967296]", offsets: "[0,4]") + "}", dataCount: 4,
              expect: "invalidHeader", tensor: "t"),
        .init("shape byte count overflow",
              header: "{" + entry("t", shape: "[4611686018427387904]", offsets: "[0,4]") + "}", dataCount: 4,
              expect: "invalidHeader", tensor: "t"),
        .init("offsets not a pair", header: "{" + entry("t", shape: "[1]", offsets: "[0]") + "}", dataCount: 4,
              expect: "invalidHeader", tensor: "t"),
        .init("negative offset", header: "{" + entry("t", shape: "[1]", offsets: "[-4,0]") + "}", dataCount: 4,
              expect: "invalidHeader", tensor: "t"),
        .init("offsets out of range", header: "{" + entry("t", shape: "[2]", offsets: "[0,8]") + "}", dataCount: 4,
              expect: "tensorOutOfBounds", tensor: "t"),
        .init("huge end offset",
              header: "{" + entry("t", shape: "[1]", offsets: "[9223372036854775803,9223372036854775807]") + "}",
              dataCount: 4, expect: "tensorOutOfBounds", tensor: "t"),
        .init("begin after end", header: "{" + entry("t", shape: "[0]", offsets: "[8,4]") + "}", dataCount: 8,
              expect: "tensorOutOfBounds", tensor: "t"),
        .init("shape x dtype differs from byte length",
              header: "{" + entry("t", shape: "[3]", offsets: "[0,8]") + "}", dataCount: 8,
              expect: "byteCountMismatch", tensor: "t"),
        .init("overlapping tensors",
              header: "{" + entry("a", shape: "[2]", offsets: "[0,8]") + "," + entry("b", shape: "[2]", offsets: "[4,12]") + "}",
              dataCount: 12, expect: "overlappingTensors", tensor: "b"),
        .init("tensor inside another",
              header: "{" + entry("outer", shape: "[4]", offsets: "[0,16]") + ","
                  + entry("inner", dtype: "U8", shape: "[2]", offsets: "[6,8]") + "}",
              dataCount: 16, expect: "overlappingTensors", tensor: "inner"),
        .init("same bytes twice",
              header: "{" + entry("a", shape: "[1]", offsets: "[0,4]") + "," + entry("b", shape: "[1]", offsets: "[0,4]") + "}",
              dataCount: 4, expect: "overlappingTensors", tensor: "a"),
        .init("metadata with a non-string value", header: #"{"__metadata__":{"format":"pt","epoch":3}}"#,
              expect: "invalidHeader", tensor: "epoch"),
        .init("metadata not an object", header: #"{"__metadata__":["pt"]}"#, expect: "invalidHeader"),
        .init("duplicate tensor name",
              header: "{" + entry("a", shape: "[1]", offsets: "[0,4]") + "," + entry("a", shape: "[1]", offsets: "[4,8]") + "}",
              dataCount: 8, expect: "invalidJSON"),
    ]
}

@Suite struct SafetensorsBadInputTests {
    @Test(arguments: HostileSafetensorsCase.all)
    func hostileFileIsRejected(_ hostile: HostileSafetensorsCase) throws {
        let path = try SafetensorsFileBuilder.write(hostile.bytes)
        let error = #expect(throws: ModelIOError.self) { _ = try SafetensorsStore(path: path) }
        guard let error else { return }
        #expect(SafetensorsFileBuilder.caseName(of: error) == hostile.expectedCase, "\(error)")
        #expect(error.description.contains(path), "\(error)")
        if let tensor = hostile.tensor {
            #expect(error.description.contains("'\(tensor)'"), "\(error)")
        }
    }

    @Test func exactErrorValues() throws {
        let unknown = try SafetensorsFileBuilder.write(
            header: "{" + HostileSafetensorsCase.entry("w", dtype: "F8", shape: "[1]", offsets: "[0,1]") + "}",
            dataCount: 1)
        #expect(throws: ModelIOError.unknownDType(path: unknown, tensor: "w", dtype: "F8")) {
            _ = try SafetensorsStore(path: unknown)
        }
        let mismatch = try SafetensorsFileBuilder.write(
            header: "{" + HostileSafetensorsCase.entry("w", dtype: "F16", shape: "[2,3]", offsets: "[0,10]") + "}",
            dataCount: 10)
        #expect(throws: ModelIOError.byteCountMismatch(path: mismatch, tensor: "w", expected: 12, actual: 10)) {
            _ = try SafetensorsStore(path: mismatch)
        }
        let overlap = try SafetensorsFileBuilder.write(
            header: "{" + HostileSafetensorsCase.entry("late", shape: "[2]", offsets: "[4,12]") + ","
                + HostileSafetensorsCase.entry("early", shape: "[2]", offsets: "[0,8]") + "}",
            dataCount: 12)
        #expect(throws: ModelIOError.overlappingTensors(path: overlap, first: "early", second: "late")) {
            _ = try SafetensorsStore(path: overlap)
        }
        let missing = try FixturePaths.temporaryFolder().appendingPathComponent("absent.safetensors").path
        #expect(throws: ModelIOError.fileNotFound(path: missing)) { _ = try SafetensorsStore(path: missing) }
    }

    @Test func emptyTensorsShareOffsetsWithoutOverlapping() throws {
        let header = "{" + HostileSafetensorsCase.entry("a", shape: "[1]", offsets: "[0,4]") + ","
            + HostileSafetensorsCase.entry("e2", shape: "[0,3]", offsets: "[4,4]") + ","
            + HostileSafetensorsCase.entry("e1", shape: "[0]", offsets: "[4,4]") + ","
            + HostileSafetensorsCase.entry("b", shape: "[1]", offsets: "[4,8]") + "}"
        let store = try SafetensorsStore(path: SafetensorsFileBuilder.write(header: header, dataCount: 8))
        #expect(store.tensors.map(\.name) == ["a", "e2", "e1", "b"])
        #expect(try store.floatTensor(named: "e2").scalars.isEmpty)
    }
}

@Suite struct ShardedSafetensorsBadInputTests {
    /// A folder with one valid shard `a.safetensors` holding tensor `x`, and an index.
    static func folder(index: String) throws -> (folder: URL, index: String) {
        let folder = try FixturePaths.temporaryFolder()
        let shard = try RawTensor(info: TensorInfo(name: "x", dtype: .float32, shape: [1]), bytes: [0, 0, 0x80, 0x3F])
        try SafetensorsWriter.write([shard], metadata: ["format": "pt"], to: folder.appendingPathComponent("a.safetensors").path)
        let indexPath = folder.appendingPathComponent("model.safetensors.index.json").path
        _ = FileManager.default.createFile(atPath: indexPath, contents: Data(index.utf8))
        return (folder, indexPath)
    }

    @Test func validIndexOpens() throws {
        let (_, index) = try Self.folder(index: #"{"weight_map":{"x":"a.safetensors"}}"#)
        let store = try ShardedSafetensorsStore(indexPath: index)
        #expect(store.tensors.map(\.name) == ["x"])
        #expect(store.metadata == .object(JSONObject()))
        #expect(try store.floatTensor(named: "x").scalars == [1])
    }

    @Test func missingShard() throws {
        let (_, index) = try Self.folder(index: #"{"weight_map":{"x":"a.safetensors","y":"b.safetensors"}}"#)
        #expect(throws: ModelIOError.missingShard(index: index, shard: "b.safetensors")) {
            _ = try ShardedSafetensorsStore(indexPath: index)
        }
    }

    @Test func tensorMissingFromShard() throws {
        let (folder, index) = try Self.folder(index: #"{"weight_map":{"x":"a.safetensors","ghost":"a.safetensors"}}"#)
        let shardPath = folder.appendingPathComponent("a.safetensors").path
        #expect(throws: ModelIOError.tensorNotFound(path: shardPath, tensor: "ghost")) {
            _ = try ShardedSafetensorsStore(indexPath: index)
        }
    }

    @Test(arguments: ["../a.safetensors", "/etc/passwd", "sub/../../a.safetensors", "", "./a.safetensors", #"..\\a"#])
    func shardNameLeavingTheFolder(shard: String) throws {
        let (_, index) = try Self.folder(index: #"{"weight_map":{"x":"\#(shard)"}}"#)
        let error = #expect(throws: ModelIOError.self) { _ = try ShardedSafetensorsStore(indexPath: index) }
        guard let error else { return }
        #expect(SafetensorsFileBuilder.caseName(of: error) == "invalidHeader", "\(error)")
        #expect(error.description.contains(index))
    }

    @Test(arguments: [
        ("[]", "invalidHeader"),
        (#"{"metadata":{}}"#, "invalidHeader"),
        (#"{"weight_map":[]}"#, "invalidHeader"),
        (#"{"weight_map":{"x":1}}"#, "invalidHeader"),
        (#"{"metadata":"m","weight_map":{"x":"a.safetensors"}}"#, "invalidHeader"),
        ("{", "invalidJSON"),
        ("", "invalidJSON"),
    ])
    func malformedIndex(text: String, expectedCase: String) throws {
        let (_, index) = try Self.folder(index: text)
        let error = #expect(throws: ModelIOError.self) { _ = try ShardedSafetensorsStore(indexPath: index) }
        guard let error else { return }
        #expect(SafetensorsFileBuilder.caseName(of: error) == expectedCase, "\(error)")
        #expect(error.description.contains(index))
    }

    @Test func brokenShardReportsTheShard() throws {
        let (folder, index) = try Self.folder(index: #"{"weight_map":{"x":"a.safetensors"}}"#)
        let shardPath = folder.appendingPathComponent("a.safetensors").path
        _ = FileManager.default.createFile(atPath: shardPath, contents: Data([1, 2, 3]))
        let error = #expect(throws: ModelIOError.self) { _ = try ShardedSafetensorsStore(indexPath: index) }
        #expect(error.map(SafetensorsFileBuilder.caseName) == "truncated")
        #expect(error?.description.contains(shardPath) == true)
    }
}

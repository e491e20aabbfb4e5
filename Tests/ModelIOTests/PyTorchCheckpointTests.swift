import Foundation
@testable import ModelIO
import QuantCore
import Testing

/// Helpers shared by the PyTorch checkpoint tests.
enum PyTorchFixtures {
    static func path(_ name: String) -> String {
        FixturePaths.fixtures.appendingPathComponent("pytorch").appendingPathComponent(name).path
    }

    static func json(_ name: String) throws -> JSONValue {
        try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path(name)))), path: name)
    }

    /// The real model at `path`; a missing file fails the test (no silent skip).
    static func requireModel(_ path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("\(path) is missing: run `make models` to fetch the real models")
            throw ModelIOError.fileNotFound(path: path)
        }
        return path
    }

    /// Checks name, dtype, shape and float32 sha256 of every tensor against a golden file,
    /// in order.
    static func expectMatchesGolden(_ store: PyTorchCheckpointStore, golden: JSONValue) throws {
        let expected = try #require(golden["tensors"]?.arrayValue)
        #expect(store.tensors.count == expected.count)
        for (info, entry) in zip(store.tensors, expected) {
            #expect(info.name == entry["name"]?.stringValue)
            #expect(info.dtype.rawValue == entry["dtype"]?.stringValue, "\(info.name)")
            #expect(info.shape == entry["shape"]?.arrayValue?.compactMap(\.intValue), "\(info.name)")
            let tensor = try store.floatTensor(named: info.name)
            let digest = tensor.scalars.withUnsafeBytes { SHA256.hexDigest($0) }
            #expect(digest == entry["sha256_float32"]?.stringValue, "\(info.name)")
        }
    }

    static func writeTemporary(_ bytes: [UInt8], name: String) throws -> String {
        let url = try FixturePaths.temporaryFolder().appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    static func bytes(of path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

@Suite struct PyTorchCheckpointTests {
    @Test func mobileNetV2LegacyCheckpointMatchesTorch() throws {
        let path = try PyTorchFixtures.requireModel(RealModels.mobileNetV2)
        let store = try PyTorchCheckpointStore(path: path)
        #expect(store.format == .pytorchLegacy)
        #expect(store.info(named: "features.0.0.weight")?.shape == [32, 3, 3, 3])
        #expect(store.info(named: "classifier.1.weight")?.shape == [1000, 1280])
        #expect(store.info(named: "features.0.1.num_batches_tracked") == TensorInfo(name: "features.0.1.num_batches_tracked", dtype: .int64, shape: []))
        #expect(store.tensors.count == 314)
        #expect(store.metadata["torch_legacy_format"] == .bool(true))
        #expect(store.metadata["pickle_protocol"]?.intValue == 2)
        #expect(store.metadata["non_tensor_entries"] == .array([]))
        #expect(store.totalParameters > 3_500_000)
        try PyTorchFixtures.expectMatchesGolden(store, golden: try PyTorchFixtures.json("mobilenet_v2-golden.json"))
    }

    @Test func efficientNetLite0CheckpointMatchesTorch() throws {
        let path = try PyTorchFixtures.requireModel(RealModels.efficientNetLite0)
        let store = try PyTorchCheckpointStore(path: path)
        // This .pth is written in the legacy layout (not zip), with channels-last strides.
        #expect(store.format == .pytorchLegacy)
        let batches = store.tensors.filter { $0.name.hasSuffix("num_batches_tracked") }
        #expect(!batches.isEmpty && batches.allSatisfy { $0.dtype == .int64 && $0.shape == [] })
        try PyTorchFixtures.expectMatchesGolden(store, golden: try PyTorchFixtures.json("efficientnet_lite0-golden.json"))
    }

    @Test(arguments: [
        ("small_zip.pth", "small_zip.json", WeightFormat.pytorchZip),
        ("small_zip64.pth", "small_zip.json", WeightFormat.pytorchZip),
        ("small_legacy.pth", "small_legacy.json", WeightFormat.pytorchLegacy),
    ])
    func smallCheckpointMatchesTorch(file: String, expectation: String, format: WeightFormat) throws {
        let store = try PyTorchCheckpointStore(path: PyTorchFixtures.path(file))
        let golden = try PyTorchFixtures.json(expectation)
        #expect(store.format == format)
        #expect(store.metadata["non_tensor_entries"] == golden["non_tensor_entries"])
        try PyTorchFixtures.expectMatchesGolden(store, golden: golden)
        for entry in try #require(golden["tensors"]?.arrayValue) {
            let name = try #require(entry["name"]?.stringValue)
            let values = try #require(entry["values"]?.arrayValue).map { Float($0.doubleValue ?? .nan) }
            #expect(try store.floatTensor(named: name).scalars == values, "\(name)")
        }
        // base, transposed, window and flat_tail share one storage; the empty tensor may add one.
        let storages = try #require(store.metadata["storage_count"]?.intValue)
        let nonEmpty = try #require(golden["non_empty_storage_count"]?.intValue)
        #expect(storages >= nonEmpty && storages <= nonEmpty + 1)
        #expect(storages < store.tensors.count - 2)
    }

    @Test func stridedViewsAreMaterialisedRowMajor() throws {
        let store = try PyTorchCheckpointStore(path: PyTorchFixtures.path("small_zip.pth"))
        let base = try store.floatTensor(named: "base")
        let transposed = try store.floatTensor(named: "transposed")
        let window = try store.floatTensor(named: "window")
        #expect(transposed.shape == [6, 4] && window.shape == [2, 3])
        for row in 0..<4 {
            for column in 0..<6 {
                #expect(transposed.scalars[column * 4 + row] == base.scalars[row * 6 + column])
            }
        }
        #expect(window.scalars == [8, 9, 10, 14, 15, 16].map { base.scalars[$0] })
        #expect(try store.floatTensor(named: "flat_tail").scalars == Array(base.scalars[10..<16]))
        #expect(try store.rawTensor(named: "half").bytes.count == 12)
        #expect(try store.floatTensor(named: "scalar").shape == [])
        #expect(try store.floatTensor(named: "empty").scalars.isEmpty)
        #expect(store.metadata["prefix"] == .string("small_zip"))
        #expect(throws: ModelIOError.tensorNotFound(path: store.path, tensor: "missing")) {
            try store.floatTensor(named: "missing")
        }
    }

    @Test func hostilePicklesAreRefusedAsCheckpoints() throws {
        // A legacy checkpoint whose object pickle calls os.system.
        let magic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A] + PyTorchCheckpointStore.legacyMagic + [0x2E]
        let version: [UInt8] = [0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E]
        let system = [0x80, 0x02, 0x7D, 0x28] + PickleBytes.unicode("little_endian") + [0x88, 0x75, 0x2E]
        let hostile = try PyTorchFixtures.bytes(of: PyTorchFixtures.path("hostile_os_system.pkl"))
        let path = try PyTorchFixtures.writeTemporary(magic + version + system + hostile, name: "hostile.pth")
        #expect(throws: ModelIOError.forbiddenPickleGlobal(path: path, module: "os", name: "system")) {
            try PyTorchCheckpointStore(path: path)
        }
        let eval = PyTorchFixtures.path("hostile_builtins_eval.pkl")
        #expect(throws: ModelIOError.forbiddenPickleGlobal(path: eval, module: "builtins", name: "eval")) {
            try PyTorchCheckpointStore(path: eval)
        }
    }

    @Test func damagedArchivesGiveClearErrors() throws {
        do {
            _ = try PyTorchCheckpointStore(path: PyTorchFixtures.path("compressed_entry.pth"))
            Issue.record("compressed entry accepted")
        } catch let ModelIOError.unsupportedFormat(_, reason) {
            #expect(reason.contains("small_zip/data/") && reason.contains("compressed"), "\(reason)")
        }
        let missing = PyTorchFixtures.path("missing_data_entry.pth")
        #expect(throws: ModelIOError.invalidHeader(path: missing, reason: "zip entry 'small_zip/data/0' holding storage '0' is missing")) {
            try PyTorchCheckpointStore(path: missing)
        }
        do {
            _ = try PyTorchCheckpointStore(path: PyTorchFixtures.path("offset_out_of_range.pth"))
            Issue.record("out-of-range offset accepted")
        } catch let ModelIOError.tensorOutOfBounds(_, tensor, reason) {
            #expect(tensor == "weight" && reason.contains("element 101"), "\(reason)")
        }
        do {
            _ = try PyTorchCheckpointStore(path: PyTorchFixtures.path("big_endian.pth"))
            Issue.record("big-endian checkpoint accepted")
        } catch let ModelIOError.unsupportedFormat(_, reason) {
            #expect(reason.contains("big-endian"))
        }
    }

    @Test func truncatedFilesNeverTrap() throws {
        let zipBytes = try PyTorchFixtures.bytes(of: PyTorchFixtures.path("small_zip.pth"))
        let legacyBytes = try PyTorchFixtures.bytes(of: PyTorchFixtures.path("small_legacy.pth"))
        for (bytes, name) in [(zipBytes, "zip.pth"), (legacyBytes, "legacy.pth")] {
            for length in stride(from: 1, to: bytes.count, by: 7) {
                let path = try PyTorchFixtures.writeTemporary(Array(bytes[0..<length]), name: name)
                do {
                    _ = try PyTorchCheckpointStore(path: path)
                    Issue.record("\(name) cut to \(length) of \(bytes.count) bytes was accepted")
                } catch is ModelIOError {
                }
            }
        }
        // Cut inside the object pickle: a truncation error, and cut in the storages: too.
        let cutPickle = try PyTorchFixtures.writeTemporary(Array(legacyBytes[0..<400]), name: "cut.pth")
        #expect(throws: ModelIOError.self) { try PyTorchCheckpointStore(path: cutPickle) }
        do {
            _ = try PyTorchCheckpointStore(path: cutPickle)
        } catch ModelIOError.truncated {
        } catch {
            Issue.record("expected truncated, got \(error)")
        }
        let cutZip = try PyTorchFixtures.writeTemporary(Array(zipBytes[0..<(zipBytes.count - 30)]), name: "cut.zip")
        do {
            _ = try PyTorchCheckpointStore(path: cutZip)
            Issue.record("cut zip accepted")
        } catch ModelIOError.truncated {
        }
    }

    @Test func filesThatAreNotCheckpointsAreRefused() throws {
        let text = try PyTorchFixtures.writeTemporary(Array("hello, world\n".utf8), name: "text.pth")
        let empty = try PyTorchFixtures.writeTemporary([], name: "empty.pth")
        let plain = PyTorchFixtures.path("plain_protocol2.pkl")
        for path in [text, empty, plain] {
            do {
                _ = try PyTorchCheckpointStore(path: path)
                Issue.record("\(path) accepted")
            } catch ModelIOError.unsupportedFormat(let errorPath, _) {
                #expect(errorPath == path)
            }
        }
        #expect(throws: ModelIOError.fileNotFound(path: "/nonexistent/model.pth")) {
            try PyTorchCheckpointStore(path: "/nonexistent/model.pth")
        }
    }

    @Test func parsePickleEntryPointAcceptsArbitraryBytes() throws {
        let bytes = try PyTorchFixtures.bytes(of: PyTorchFixtures.path("plain_protocol4.pkl"))
        let document = try bytes.withUnsafeBytes { try PyTorchCheckpointStore.parsePickle($0, path: "fuzz") }
        #expect(document.dictionary(document.root)?.count == 5)
        #expect(throws: ModelIOError.self) {
            try [UInt8]([0x80]).withUnsafeBytes { try PyTorchCheckpointStore.parsePickle($0, path: "fuzz") }
        }
    }
}

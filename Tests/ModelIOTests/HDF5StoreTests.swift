import Foundation
@testable import ModelIO
import QuantCore
import Testing

@Suite struct HDF5StoreTests {
    // MARK: Real models

    @Test func ferKeras2ModelMatchesGolden() throws {
        try HDF5TestSupport.requireModel(RealModels.ferEmotion)
        let store = try HDF5Store(path: RealModels.ferEmotion)
        #expect(store.format == .kerasModelHDF5)
        #expect(store.tensors.count == 80)
        #expect(store.totalParameters == 58_423)
        #expect(store.tensors.first?.name == "conv2d_1_1/kernel:0")
        try HDF5TestSupport.expectMatchesGolden(store, golden: "fer-golden.json")
    }

    @Test func ferMetadataSummarisesTheFunctionalModel() throws {
        try HDF5TestSupport.requireModel(RealModels.ferEmotion)
        let store = try HDF5Store(path: RealModels.ferEmotion)
        let metadata = store.metadata
        #expect(metadata["keras_version"]?.stringValue == "2.0.5")
        #expect(metadata["backend"]?.stringValue == "tensorflow")
        #expect(metadata["model_class"]?.stringValue == "Model")
        let layers = try #require(metadata["layers"]?.arrayValue)
        #expect(layers.count == 46)
        #expect(metadata["layer_count"]?.intValue == 46)
        #expect(layers.first?["name"]?.stringValue == "input_1")
        #expect(layers.first?["class_name"]?.stringValue == "InputLayer")
        #expect(layers.first?["inbound"]?.arrayValue == [])
        #expect(layers[1]["inbound"]?.arrayValue == [.string("input_1")])
        let add = try #require(layers.first { $0["name"]?.stringValue == "add_1" })
        #expect(add["class_name"]?.stringValue == "Add")
        #expect(add["inbound"]?.arrayValue?.count == 2)
        let config = try #require(store.modelConfig)
        #expect(config["class_name"]?.stringValue == "Model")
        #expect(config["config"]?["name"]?.stringValue == "model_1")
        #expect(config["config"]?["layers"]?.arrayValue?.count == 46)
    }

    @Test func hedKeras3WeightsMatchGolden() throws {
        try HDF5TestSupport.requireModel(RealModels.hedWeights)
        let store = try HDF5Store(path: RealModels.hedWeights)
        #expect(store.format == .kerasWeightsHDF5)
        #expect(store.tensors.count == 38)
        #expect(store.totalParameters == 14_716_171)
        #expect(store.info(named: "block1/layers/conv2d/vars/0")?.shape == [3, 3, 3, 64])
        try HDF5TestSupport.expectMatchesGolden(store, golden: "hed-golden.json")
    }

    @Test func truncatedFileIsATypedError() throws {
        try HDF5TestSupport.requireModel(RealModels.ferEmotion)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: RealModels.ferEmotion)))
        let folder = try FixturePaths.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let half = try HDF5TestSupport.writeFile(Array(bytes[0..<(bytes.count / 2)]), named: "half.hdf5", in: folder)
        do {
            _ = try HDF5Store(path: half)
            Issue.record("opening half of the fer file succeeded")
        } catch let error as ModelIOError {
            guard case let .truncated(path, _) = error else {
                Issue.record("expected .truncated, got \(error)")
                return
            }
            #expect(path == half)
        }
    }

    @Test func concurrentReadsAgree() throws {
        let store = try HDF5Store(path: HDF5TestSupport.fixture("plain.h5"))
        let names = store.tensors.map(\.name)
        let expected = try names.map { try HDF5TestSupport.floatDigest(store.floatTensor(named: $0)) }
        let results = HDF5ResultBox(count: 8)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            let digests = try? names.map { try HDF5TestSupport.floatDigest(store.floatTensor(named: $0)) }
            results.set(worker, digests ?? [])
        }
        for worker in 0..<8 { #expect(results.get(worker) == expected) }
    }

    // MARK: Committed fixtures

    @Test func plainFixtureValuesOrderAndAttributes() throws {
        let store = try HDF5Store(path: HDF5TestSupport.fixture("plain.h5"))
        let expected = try HDF5TestSupport.json("plain.json")
        #expect(store.format == .plainHDF5)
        #expect(store.modelConfig == nil)
        #expect(store.metadata == expected["attributes"])
        #expect(store.metadata["count"] == nil)
        let entries = try #require(expected["tensors"]?.arrayValue)
        #expect(store.tensors.map(\.name) == entries.compactMap { $0["name"]?.stringValue })
        for (info, entry) in zip(store.tensors, entries) {
            #expect(info.dtype.rawValue == entry["dtype"]?.stringValue, "\(info.name)")
            #expect(info.shape == entry["shape"]?.arrayValue?.compactMap(\.intValue), "\(info.name)")
            let values = try #require(entry["values"]?.arrayValue).compactMap { $0.doubleValue.map(Float.init) }
            #expect(try store.floatTensor(named: info.name).scalars == values, "\(info.name)")
        }
    }

    @Test func bigEndianDatasetsAreConvertedToLittleEndian() throws {
        let store = try HDF5Store(path: HDF5TestSupport.fixture("plain.h5"))
        let floats = try store.rawTensor(named: "big_endian")
        #expect(floats.info == TensorInfo(name: "big_endian", dtype: .float32, shape: [2, 3]))
        let expectedFloats: [Float] = [1.5, -2.25, 3.0, 0.125, -1e-3, 65504.0]
        #expect(floats.bytes == expectedFloats.withUnsafeBytes { Array($0) })
        let integers = try store.rawTensor(named: "int32_big_endian")
        #expect(integers.bytes == [Int32(-1), 70000, -123456].withUnsafeBytes { Array($0) })
        #expect(try store.rawTensor(named: "scalar").info.shape == [])
        #expect(try store.rawTensor(named: "flags").bytes == [1, 0, 1])
        #expect(try store.rawTensor(named: "empty").bytes.isEmpty)
    }

    @Test func keras3OrderIsNaturalForNumericComponents() throws {
        let store = try HDF5Store(path: HDF5TestSupport.fixture("keras3-small.h5"))
        let expected = try HDF5TestSupport.json("keras3-small.json")
        #expect(store.format == .kerasWeightsHDF5)
        let names = try #require(expected["tensors"]?.arrayValue).compactMap { $0["name"]?.stringValue }
        #expect(store.tensors.map(\.name) == names)
        #expect(names[9] == "layers/dense/vars/9" && names[10] == "layers/dense/vars/10")
        #expect(try store.floatTensor(named: "layers/dense/vars/10").scalars == [10, 10])
    }

    @Test func naturalOrderComparesNumbersByValue() {
        let paths = ["b", "a/10", "a/9", "a/09x", "a", "a/b", "a/0010", "a/2/c", "a/2"]
        #expect(HDF5NaturalOrder.sorted(paths) == ["a", "a/2", "a/2/c", "a/9", "a/0010", "a/10", "a/09x", "a/b", "b"])
    }

    @Test func unsupportedDTypeNamesTheDataset() throws {
        let path = HDF5TestSupport.fixture("unsupported-u16.h5")
        do {
            _ = try HDF5Store(path: path)
            Issue.record("a uint16 dataset was accepted")
        } catch let ModelIOError.unsupportedFormat(errorPath, reason) {
            #expect(errorPath == path)
            #expect(reason.contains("counts_u16") && reason.contains("unsigned 16-bit"))
        }
    }

    @Test func keras2LayoutWithAMissingWeightIsInvalidHeader() throws {
        let path = HDF5TestSupport.fixture("keras2-missing-weight.h5")
        do {
            _ = try HDF5Store(path: path)
            Issue.record("a Keras 2 file with a missing weight was accepted")
        } catch let ModelIOError.invalidHeader(errorPath, reason) {
            #expect(errorPath == path)
            #expect(reason.contains("dense_1/bias:0"))
        }
    }

    @Test func unknownTensorIsTensorNotFound() throws {
        let path = HDF5TestSupport.fixture("plain.h5")
        let store = try HDF5Store(path: path)
        #expect(throws: ModelIOError.tensorNotFound(path: path, tensor: "model/encoder")) {
            try store.floatTensor(named: "model/encoder")
        }
        #expect(throws: ModelIOError.tensorNotFound(path: path, tensor: "nothing")) {
            try store.withRawBytes(named: "nothing") { $0.count }
        }
    }

    // MARK: Files that are not HDF5

    static let notHDF5Files: [(String, [UInt8])] = [
        ("text.txt", Array("just some text, not a weight file\n".utf8)),
        ("empty.bin", []),
        ("model.safetensors", [16, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"__metadata__":{}}"#.utf8)),
        ("short.h5", [0x89, 0x48, 0x44, 0x46]),
    ]

    @Test(arguments: notHDF5Files.map(\.0))
    func nonHDF5FileIsNotHDF5(name: String) throws {
        let bytes = try #require(Self.notHDF5Files.first { $0.0 == name }).1
        let folder = try FixturePaths.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = try HDF5TestSupport.writeFile(bytes, named: name, in: folder)
        #expect(throws: ModelIOError.notHDF5(path: path)) { try HDF5Store(path: path) }
    }

    @Test func missingFileIsFileNotFound() {
        let path = "/nonexistent/aimet-swift/model.h5"
        #expect(throws: ModelIOError.fileNotFound(path: path)) { try HDF5Store(path: path) }
    }

    @Test(arguments: [2, 3, 4])
    func truncatedFixtureNeverCrashes(divisor: Int) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: HDF5TestSupport.fixture("plain.h5"))))
        let folder = try FixturePaths.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = try HDF5TestSupport.writeFile(Array(bytes[0..<(bytes.count / divisor)]), named: "cut.h5", in: folder)
        #expect(throws: ModelIOError.self) { try HDF5Store(path: path) }
    }

    // MARK: Keras config summaries

    @Test func sequentialConfigsChainTheirLayers() throws {
        let oldStyle = try JSONParser.parse(
            #"{"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"name": "d1"}}, {"class_name": "Dropout", "config": {"name": "drop"}}]}"#,
            path: "config")
        let newStyle = try JSONParser.parse(
            #"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense", "config": {"name": "d1"}}, {"class_name": "Dropout", "config": {"name": "drop"}}]}}"#,
            path: "config")
        for config in [oldStyle, newStyle] {
            let layers = try HDF5KerasModel.layerSummaries(modelConfig: config, modelClass: "Sequential", path: "p")
            #expect(layers.count == 2)
            #expect(layers[0]["inbound"] == .array([]))
            #expect(layers[1]["name"]?.stringValue == "drop")
            #expect(layers[1]["inbound"] == .array([.string("d1")]))
        }
    }

    @Test func functionalInboundNodesInBothKerasForms() throws {
        let keras2 = try JSONParser.parse(#"[[["a", 0, 0, {}], ["b", 0, 0, {}]], [["a", 1, 0, {}]]]"#, path: "n")
        #expect(HDF5KerasModel.inboundLayerNames(keras2) == ["a", "b"])
        let keras3 = try JSONParser.parse(
            #"[{"args": [[{"class_name": "__keras_tensor__", "config": {"shape": [1], "keras_history": ["x", 0, 0]}}, {"config": {"keras_history": ["y", 0, 0]}}]], "kwargs": {}}]"#,
            path: "n")
        #expect(HDF5KerasModel.inboundLayerNames(keras3) == ["x", "y"])
        let broken = try JSONParser.parse(#"{"class_name": "Functional", "config": {"name": "m"}}"#, path: "n")
        #expect(throws: ModelIOError.self) {
            try HDF5KerasModel.layerSummaries(modelConfig: broken, modelClass: "Functional", path: "p")
        }
    }
}

/// Per-worker results written from `concurrentPerform`.
final class HDF5ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [[String]]

    init(count: Int) { values = Array(repeating: [], count: count) }

    func set(_ index: Int, _ value: [String]) {
        lock.lock()
        values[index] = value
        lock.unlock()
    }

    func get(_ index: Int) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return values[index]
    }
}

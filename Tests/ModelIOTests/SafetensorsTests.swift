import Foundation
@testable import ModelIO
import QuantCore
import Testing

@Suite struct SafetensorsReaderTests {
    static var folder: URL { FixturePaths.fixtures.appendingPathComponent("safetensors") }
    static var allDTypesPath: String { folder.appendingPathComponent("all_dtypes.safetensors").path }

    static func loadJSON(_ name: String) throws -> JSONValue {
        let path = folder.appendingPathComponent(name).path
        return try JSONParser.parse(SafetensorsFileBuilder.contents(of: path), path: path)
    }

    @Test func fixtureMatchesPythonValues() throws {
        let store = try SafetensorsStore(path: Self.allDTypesPath)
        let expected = try Self.loadJSON("all_dtypes.json")
        let expectedTensors = try #require(expected["tensors"]?.arrayValue)
        #expect(store.format == .safetensors)
        #expect(store.tensors.count == 12)
        #expect(store.tensors.map(\.name) == expectedTensors.map { $0["name"]?.stringValue ?? "" })
        #expect(Set(store.tensors.map(\.dtype)) == Set(DType.allCases))

        for (info, entry) in zip(store.tensors, expectedTensors) {
            #expect(info.dtype.rawValue == entry["dtype"]?.stringValue, "\(info.name)")
            #expect(info.shape == entry["shape"]?.arrayValue?.compactMap(\.intValue), "\(info.name)")
            let values = try store.floatTensor(named: info.name).scalars
            let wanted = try #require(entry["values"]?.arrayValue)
            #expect(values.count == wanted.count, "\(info.name)")
            for (index, (value, target)) in zip(values, wanted).enumerated() {
                switch target {
                case .string("nan"):
                    #expect(value.isNaN, "\(info.name)[\(index)] = \(value)")
                case .string("inf"):
                    #expect(value == .infinity, "\(info.name)[\(index)] = \(value)")
                case .string("-inf"):
                    #expect(value == -.infinity, "\(info.name)[\(index)] = \(value)")
                default:
                    let number = try #require(target.doubleValue)
                    // Bit patterns, so -0 must stay -0 and subnormals must survive.
                    #expect(value.bitPattern == Float(number).bitPattern,
                            "\(info.name)[\(index)]: \(value) != \(Float(number))")
                }
            }
        }
        #expect(store.info(named: "empty")?.shape == [0, 3])
        #expect(store.info(named: "scalar")?.shape == [])
        #expect(try store.floatTensor(named: "scalar").scalars == [3.25])
    }

    @Test func fixtureMetadata() throws {
        let store = try SafetensorsStore(path: Self.allDTypesPath)
        #expect(store.userMetadata == ["format": "pt", "note": "é"])
        let expected = try Self.loadJSON("all_dtypes.json")
        #expect(store.metadata == expected["metadata"])
        #expect(store.metadata["format"]?.stringValue == "pt")
    }

    @Test func fixtureReserializesByteIdenticalToPython() throws {
        let store = try SafetensorsStore(path: Self.allDTypesPath)
        let tensors = try store.tensors.map { try store.rawTensor(named: $0.name) }
        let serialized = try SafetensorsWriter.serialize(tensors.reversed(), metadata: store.userMetadata)
        let original = try SafetensorsFileBuilder.contents(of: Self.allDTypesPath)
        #expect(SafetensorsFileBuilder.firstDifference(serialized, original) == nil)

        let written = try FixturePaths.temporaryFolder().appendingPathComponent("copy.safetensors").path
        try SafetensorsWriter.write(tensors, metadata: store.userMetadata, to: written)
        #expect(SafetensorsFileBuilder.firstDifference(try SafetensorsFileBuilder.contents(of: written), original) == nil)
    }

    @Test(arguments: ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
    func shardsReserializeByteIdenticalToPython(shard: String) throws {
        let path = Self.folder.appendingPathComponent("sharded").appendingPathComponent(shard).path
        let store = try SafetensorsStore(path: path)
        let tensors = try store.tensors.map { try store.rawTensor(named: $0.name) }
        let serialized = try SafetensorsWriter.serialize(tensors, metadata: store.userMetadata)
        #expect(SafetensorsFileBuilder.firstDifference(serialized, try SafetensorsFileBuilder.contents(of: path)) == nil)
    }

    @Test func rawBytesComeStraightFromTheMapping() throws {
        let store = try SafetensorsStore(path: Self.allDTypesPath)
        let first = try #require(store.dataOffset(of: "int64"))
        let second = try #require(store.dataOffset(of: "float16"))
        let firstAddress = try store.withRawBytes(named: "int64") { UInt(bitPattern: $0.baseAddress) }
        let secondAddress = try store.withRawBytes(named: "float16") { UInt(bitPattern: $0.baseAddress) }
        // Two slices of one mapping lie exactly as far apart as their file offsets.
        #expect(Int(secondAddress) - Int(firstAddress) == second.lowerBound - first.lowerBound)
        #expect(try store.withRawBytes(named: "float16") { $0.count } == second.count)
        #expect(second.upperBound <= store.fileSize)
    }

    @Test func unknownTensorNameIsAnError() throws {
        let store = try SafetensorsStore(path: Self.allDTypesPath)
        let error = #expect(throws: ModelIOError.self) { try store.floatTensor(named: "missing") }
        #expect(error == .tensorNotFound(path: Self.allDTypesPath, tensor: "missing"))
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func writerReaderRoundTripOnRandomTensors(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        var tensors: [RawTensor] = []
        for index in 0..<24 {
            let dtype = DType.allCases[Int.random(in: 0..<DType.allCases.count, using: &random)]
            let rank = Int.random(in: 0...3, using: &random)
            let shape = (0..<rank).map { _ in Int.random(in: 0...5, using: &random) }
            let count = shape.reduce(1, *) * dtype.byteSize
            let bytes: [UInt8] = (0..<count).map { _ in
                dtype == .bool ? UInt8.random(in: 0...1, using: &random) : UInt8.random(in: 0...255, using: &random)
            }
            let name = "layer.\(Int.random(in: 0...99, using: &random)).t\(index)"
            tensors.append(try RawTensor(info: TensorInfo(name: name, dtype: dtype, shape: shape), bytes: bytes))
        }
        let metadata = ["seed": "\(seed)", "quote\"and\\slash": "line\nbreak\u{01}", "ünïcode": "✓"]
        let path = try FixturePaths.temporaryFolder().appendingPathComponent("random.safetensors").path
        try SafetensorsWriter.write(tensors, metadata: metadata, to: path)

        let store = try SafetensorsStore(path: path)
        #expect(store.userMetadata == metadata)
        #expect(store.tensors.count == tensors.count)
        for tensor in tensors {
            #expect(store.info(named: tensor.info.name) == tensor.info)
            #expect(try store.rawTensor(named: tensor.info.name) == tensor)
        }
        let bytes = try SafetensorsFileBuilder.contents(of: path)
        let headerLength = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        #expect(headerLength % 8 == 0)
        // Reading and writing again gives the same bytes (the order is canonical).
        let reread = try store.tensors.map { try store.rawTensor(named: $0.name) }
        let again = try SafetensorsWriter.serialize(reread.shuffled(using: &random), metadata: store.userMetadata)
        #expect(SafetensorsFileBuilder.firstDifference(again, bytes) == nil)
    }

    @Test func writerOrdersByDTypeThenName() throws {
        func tensor(_ name: String, _ dtype: DType) throws -> RawTensor {
            try RawTensor(info: TensorInfo(name: name, dtype: dtype, shape: [1]), bytes: [UInt8](repeating: 0, count: dtype.byteSize))
        }
        let input = try [tensor("b", .bool), tensor("a", .float32), tensor("z", .int64), tensor("B", .float32),
                         tensor("c", .bfloat16), tensor("d", .float16), tensor("e", .int32), tensor("f", .float64),
                         tensor("g", .int16), tensor("h", .int8), tensor("i", .uint8)]
        let path = try SafetensorsFileBuilder.write(try SafetensorsWriter.serialize(input, metadata: [:]))
        let store = try SafetensorsStore(path: path)
        #expect(store.tensors.map(\.name) == ["z", "f", "B", "a", "e", "c", "d", "g", "h", "i", "b"])
        let text = String(decoding: try SafetensorsFileBuilder.contents(of: path).dropFirst(8), as: UTF8.self)
        #expect(text.hasPrefix(#"{"z":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"f":"#))
        #expect(!text.contains("__metadata__"))
    }

    @Test func writerRejectsInconsistentTensors() throws {
        let one = try RawTensor(info: TensorInfo(name: "w", dtype: .float32, shape: [1]), bytes: [0, 0, 0, 0])
        let duplicate = #expect(throws: ModelIOError.self) {
            try SafetensorsWriter.serialize([one, one], metadata: [:])
        }
        #expect(duplicate.map(SafetensorsFileBuilder.caseName) == "invalidTensor")
        #expect(duplicate?.description.contains("'w'") == true)

        let reserved = try RawTensor(info: TensorInfo(name: "__metadata__", dtype: .uint8, shape: [1]), bytes: [0])
        let reservedError = #expect(throws: ModelIOError.self) {
            try SafetensorsWriter.serialize([reserved], metadata: [:])
        }
        #expect(reservedError.map(SafetensorsFileBuilder.caseName) == "invalidTensor")

        // Two negative extents multiply to a positive count, so RawTensor accepts the bytes.
        let negative = try RawTensor(info: TensorInfo(name: "neg", dtype: .uint8, shape: [-2, -2]), bytes: [0, 0, 0, 0])
        let negativeError = #expect(throws: ModelIOError.self) {
            try SafetensorsWriter.serialize([negative], metadata: [:])
        }
        #expect(negativeError.map(SafetensorsFileBuilder.caseName) == "invalidTensor")

        let mismatch = #expect(throws: ModelIOError.self) {
            _ = try RawTensor(info: TensorInfo(name: "short", dtype: .float32, shape: [2]), bytes: [0, 0, 0, 0])
        }
        #expect(mismatch.map(SafetensorsFileBuilder.caseName) == "invalidTensor")

        let folder = try FixturePaths.temporaryFolder()
        let target = folder.appendingPathComponent("never.safetensors").path
        #expect(throws: ModelIOError.self) { try SafetensorsWriter.write([one, one], metadata: [:], to: target) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func miniLMMatchesPythonGolden() throws {
        let path = RealModels.miniLMWeights
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("\(path) is missing: run `make models` to fetch the real models")
            return
        }
        let golden = try Self.loadJSON("minilm-golden.json")
        let expected = try #require(golden["tensors"]?.arrayValue)
        let store = try SafetensorsStore(path: path)
        #expect(store.tensors.count == 104)
        #expect(expected.count == 104)
        #expect(store.tensors.map(\.name) == expected.map { $0["name"]?.stringValue ?? "" })
        #expect(store.info(named: "embeddings.position_ids")?.dtype == .int64)
        for (info, entry) in zip(store.tensors, expected) {
            #expect(info.dtype.rawValue == entry["dtype"]?.stringValue, "\(info.name)")
            #expect(info.shape == entry["shape"]?.arrayValue?.compactMap(\.intValue), "\(info.name)")
            let scalars = try store.floatTensor(named: info.name).scalars
            let digest = scalars.withUnsafeBytes { SHA256.hexDigest($0) }
            #expect(digest == entry["sha256_float32"]?.stringValue, "\(info.name)")
        }
    }
}

@Suite struct ShardedSafetensorsTests {
    static var indexPath: String {
        FixturePaths.fixtures.appendingPathComponent("safetensors/sharded/model.safetensors.index.json").path
    }

    @Test func shardedFixtureReads() throws {
        let store = try ShardedSafetensorsStore(indexPath: Self.indexPath)
        #expect(store.format == .shardedSafetensors)
        #expect(store.shards.count == 2)
        // Shards by file name; inside a shard by data offset (F32 sorted by name; I64 first).
        #expect(store.tensors.map(\.name) == [
            "embeddings.weight", "layer.0.bias", "layer.0.weight", "layer.1.bias", "layer.1.weight",
        ])
        #expect(store.metadata["total_size"]?.intValue == 48 + 24 + 8 + 24 + 24)
        #expect(try store.floatTensor(named: "embeddings.weight").scalars == (0..<12).map(Float.init))
        #expect(try store.floatTensor(named: "layer.0.weight").scalars == (0..<6).map { Float($0) * 0.5 })
        #expect(try store.floatTensor(named: "layer.0.bias").scalars == [1, -1])
        #expect(try store.floatTensor(named: "layer.1.weight").scalars == (0..<6).map { -Float($0) })
        #expect(store.info(named: "layer.1.bias") == TensorInfo(name: "layer.1.bias", dtype: .int64, shape: [3]))
        #expect(try store.floatTensor(named: "layer.1.bias").scalars == [7, 8, 9])
        #expect(store.shard(holding: "layer.1.bias")?.path.hasSuffix("model-00002-of-00002.safetensors") == true)
        let error = #expect(throws: ModelIOError.self) { try store.floatTensor(named: "nope") }
        #expect(error == .tensorNotFound(path: Self.indexPath, tensor: "nope"))
    }
}

import Foundation
import ModelIO
import Testing

@Suite struct InspectCommandTests {
    @Test func jsonListsEveryMiniLMTensorInFileOrderWithSortedKeys() throws {
        let result = try CommandRunner.run(["inspect", CachedModels.miniLMFolder, "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        let json = try JSONParser.parse(result.standardOutput, path: "stdout")
        let object = try #require(json.objectValue)
        #expect(object.keys == object.keys.sorted())
        let tensors = try #require(json["tensors"]?.arrayValue)
        #expect(tensors.count == 104)
        #expect(tensors.allSatisfy { $0.objectValue?.keys == ["bytes", "dtype", "name", "parameters", "shape"] })
        let parameters = tensors.compactMap { $0["parameters"]?.intValue }.reduce(0, +)
        #expect(json["totals"]?["parameters"]?.intValue == parameters)
        #expect(json["totals"]?["tensors"]?.intValue == 104)
        #expect(json["format"]?.stringValue == "safetensors")
        let wordEmbeddings = tensors.first { $0["name"]?.stringValue == "embeddings.word_embeddings.weight" }
        #expect(wordEmbeddings?["shape"] == .array([.integer(30522), .integer(384)]))
    }

    @Test func textListingShowsTheKerasLayerGraph() throws {
        let result = try CommandRunner.run(["inspect", CachedModels.ferEmotion])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("format: keras-hdf5"))
        #expect(result.standardOutput.contains("layers ("))
        #expect(result.standardOutput.contains("SeparableConv2D"))
    }

    @Test func missingFileIsAClearErrorNotACrash() throws {
        let result = try CommandRunner.run(["inspect", "/nonexistent/model.safetensors"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("/nonexistent/model.safetensors"))
        #expect(result.standardError.contains("no such file"))
    }

    @Test func garbageFileNamesTheFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let garbage = folder.appendingPathComponent("garbage.bin").path
        _ = FileManager.default.createFile(atPath: garbage, contents: Data("this is not a model at all".utf8))
        let result = try CommandRunner.run(["inspect", garbage])
        #expect(result.status != 0)
        #expect(result.standardError.contains("garbage.bin"))
    }
}

@Suite struct ConvertCommandTests {
    @Test func convertsAPyTorchCheckpointThatInspectThenReads() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let output = folder.appendingPathComponent("mobilenet.safetensors").path
        let conversion = try CommandRunner.run(["convert", CachedModels.mobileNetV2, output])
        #expect(conversion.status == 0, "\(conversion.standardError)")
        let source = try CommandRunner.run(["inspect", CachedModels.mobileNetV2, "--json"])
        let converted = try CommandRunner.run(["inspect", output, "--json"])
        let sourceTensors = try JSONParser.parse(source.standardOutput, path: "source")["tensors"]?.arrayValue ?? []
        let convertedTensors = try JSONParser.parse(converted.standardOutput, path: "converted")["tensors"]?.arrayValue ?? []
        #expect(!sourceTensors.isEmpty)
        func keyed(_ tensors: [JSONValue]) -> [String: JSONValue] {
            Dictionary(uniqueKeysWithValues: tensors.map { ($0["name"]?.stringValue ?? "", $0) })
        }
        #expect(keyed(sourceTensors) == keyed(convertedTensors))
        let metadata = try JSONParser.parse(converted.standardOutput, path: "converted")["metadata"]
        #expect(metadata?["aimet_swift.source_format"]?.stringValue == "pytorch-legacy")
        #expect(metadata?["aimet_swift.source_sha256"]?.stringValue?.count == 64)
    }

    @Test func convertIsDeterministic() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let first = folder.appendingPathComponent("a.safetensors").path
        let second = folder.appendingPathComponent("b.safetensors").path
        #expect(try CommandRunner.run(["convert", CachedModels.ferEmotion, first]).status == 0)
        #expect(try CommandRunner.run(["convert", CachedModels.ferEmotion, second]).status == 0)
        #expect(FileManager.default.contents(atPath: first) == FileManager.default.contents(atPath: second))
    }

    @Test func outputMustBeSafetensors() throws {
        let result = try CommandRunner.run(["convert", CachedModels.ferEmotion, "/tmp/out.bin"])
        #expect(result.status != 0)
        #expect(result.standardError.contains(".safetensors"))
    }

    @Test func failedConversionLeavesNoFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let truncated = folder.appendingPathComponent("truncated.pth").path
        let source = try Data(contentsOf: URL(fileURLWithPath: CachedModels.mobileNetV2))
        _ = FileManager.default.createFile(atPath: truncated, contents: source.prefix(source.count / 2))
        let output = folder.appendingPathComponent("out.safetensors").path
        let result = try CommandRunner.run(["convert", truncated, output])
        #expect(result.status != 0)
        #expect(result.standardError.contains("truncated.pth"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["truncated.pth"])
    }
}

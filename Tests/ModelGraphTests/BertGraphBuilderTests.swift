import Foundation
import ModelGraph
import ModelIO
import QuantCore
import Testing

/// Writes a tiny random BERT checkpoint folder (config.json + model.safetensors) to test
/// the front end's checks without the real model.
struct TinyBertFolder {
    var hidden = 8
    var layers = 2
    var heads = 2
    var intermediate = 16
    var vocabulary = 20
    var positions = 12
    var weightLayers: Int? = nil
    var weightHidden: Int? = nil
    var modelType = "bert"
    var poisonTensor: String? = nil

    func write() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-bert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let config = """
        {"model_type": "\(modelType)", "vocab_size": \(vocabulary), "hidden_size": \(hidden), "num_hidden_layers": \(layers),
         "num_attention_heads": \(heads), "intermediate_size": \(intermediate), "max_position_embeddings": \(positions),
         "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
        """
        try config.write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        var generator = SystemRandomNumberGenerator()
        var tensors: [RawTensor] = []
        let width = weightHidden ?? hidden
        func add(_ name: String, _ shape: [Int]) {
            var values = (0..<Tensor.elementCount(of: shape)).map { _ in Float.random(in: -0.5...0.5, using: &generator) }
            if name == poisonTensor { values[0] = .nan }
            tensors.append(RawTensor(name: name, tensor: Tensor(shape: shape, scalars: values)))
        }
        add("embeddings.word_embeddings.weight", [vocabulary, width])
        add("embeddings.position_embeddings.weight", [positions, width])
        add("embeddings.token_type_embeddings.weight", [2, width])
        add("embeddings.LayerNorm.weight", [width])
        add("embeddings.LayerNorm.bias", [width])
        for layer in 0..<(weightLayers ?? layers) {
            let base = "encoder.layer.\(layer)"
            for name in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
                add("\(base).\(name).weight", [width, width])
                add("\(base).\(name).bias", [width])
            }
            add("\(base).attention.output.LayerNorm.weight", [width])
            add("\(base).attention.output.LayerNorm.bias", [width])
            add("\(base).intermediate.dense.weight", [intermediate, width])
            add("\(base).intermediate.dense.bias", [intermediate])
            add("\(base).output.dense.weight", [width, intermediate])
            add("\(base).output.dense.bias", [width])
            add("\(base).output.LayerNorm.weight", [width])
            add("\(base).output.LayerNorm.bias", [width])
        }
        try SafetensorsWriter.write(tensors, metadata: [:], to: folder.appendingPathComponent("model.safetensors").path)
        return folder.path
    }
}

@Suite struct BertGraphBuilderTests {
    @Test func buildsAValidGraphWithFirstClassLinearLayers() throws {
        let model = try HuggingFaceModel(path: try TinyBertFolder().write())
        try model.graph.validate()
        let linears = model.graph.nodes.filter { $0.op == .linear }
        #expect(linears.count == 2 * 6)
        #expect(linears.first?.name == "encoder.layer.0.attention.self.query")
        #expect(linears.first?.parameterSources["weight"] == "encoder.layer.0.attention.self.query.weight")
        #expect(model.graph.inputs.map(\.name) == BertGraphBuilder.inputNames)
        #expect(model.pooling == SentencePooling(mode: .mean, normalize: false))
    }

    @Test func fewerLayersInWeightsThanConfigNamesTheMissingTensor() throws {
        let path = try TinyBertFolder(layers: 3, weightLayers: 2).write()
        #expect(throws: ModelGraphError.missingWeight(path: path + "/model.safetensors", tensor: "encoder.layer.2.attention.self.query.weight")) {
            try HuggingFaceModel(path: path)
        }
    }

    @Test func moreLayersInWeightsThanConfigIsAnError() throws {
        let path = try TinyBertFolder(layers: 1, weightLayers: 2).write()
        #expect {
            try HuggingFaceModel(path: path)
        } throws: { error in
            guard case let ModelGraphError.unexpectedWeight(_, tensor, _) = error else { return false }
            return tensor.hasPrefix("encoder.layer.1.")
        }
    }

    @Test func hiddenSizeMismatchNamesTensorAndShapes() throws {
        let path = try TinyBertFolder(weightHidden: 6).write()
        #expect(throws: ModelGraphError.shapeMismatch(path: path + "/model.safetensors",
                                                      tensor: "embeddings.word_embeddings.weight", expected: [20, 8], actual: [20, 6])) {
            try HuggingFaceModel(path: path)
        }
    }

    @Test func unknownModelTypeListsSupportedTypes() throws {
        let path = try TinyBertFolder(modelType: "gpt_neox").write()
        #expect(throws: ModelGraphError.unsupportedModelType(path: path + "/config.json", modelType: "gpt_neox", supported: ["bert"])) {
            try HuggingFaceModel(path: path)
        }
    }

    @Test func nanWeightIsNamed() throws {
        let path = try TinyBertFolder(poisonTensor: "encoder.layer.1.output.dense.weight").write()
        #expect(throws: ModelGraphError.nonFiniteWeight(path: path + "/model.safetensors", tensor: "encoder.layer.1.output.dense.weight")) {
            try HuggingFaceModel(path: path)
        }
    }

    @Test func missingConfigIsNamed() throws {
        let path = try TinyBertFolder().write()
        try FileManager.default.removeItem(atPath: path + "/config.json")
        #expect(throws: ModelGraphError.missingFile(path: path + "/config.json")) { try HuggingFaceModel(path: path) }
    }

    @Test func graphValidationCatchesUseBeforeDefinition() {
        let graph = Graph(inputs: [GraphInput(name: "x", value: ValueID(0))],
                          nodes: [Node(name: "a", op: .add, inputs: [ValueID(0), ValueID(2)], output: ValueID(1))],
                          outputs: [ValueID(1)])
        #expect(throws: ModelGraphError.self) { try graph.validate() }
    }
}

import ModelIO
import QuantCore

/// Builds the graph of a BERT encoder (Hugging Face `BertModel` weights) followed by
/// sentence-transformers pooling.
public enum BertGraphBuilder {
    /// Names of the graph inputs, in the order the runtime supplies them.
    public static let inputNames = ["input_ids", "token_type_ids", "position_ids", "attention_mask"]

    /// Builds the encoder + pooling graph from `configuration` and the weights in `store`.
    /// Every weight is checked against the configuration's shapes; extra encoder layers in
    /// the checkpoint are an error (the configuration and weights disagree).
    public static func build(configuration: BertConfiguration, pooling: SentencePooling,
                             store: any WeightStore) throws -> Graph {
        let prefix = store.info(named: "bert.embeddings.word_embeddings.weight") != nil ? "bert." : ""
        var loader = WeightLoader(store: store, prefix: prefix)
        var builder = GraphBuilder()
        let hidden = configuration.hiddenSize
        let inputIDs = builder.input("input_ids")
        let tokenTypeIDs = builder.input("token_type_ids")
        let positionIDs = builder.input("position_ids")
        let mask = builder.input("attention_mask")

        func embedding(_ name: String, rows: Int, input: ValueID) throws -> ValueID {
            let (table, source) = try loader.tensor("embeddings.\(name).weight", shape: [rows, hidden])
            return builder.add("embeddings.\(name)", .embedding, inputs: [input],
                               parameters: ["weight": table], sources: ["weight": source])
        }
        func linear(_ name: String, input: ValueID, inputs: Int, outputs: Int) throws -> ValueID {
            let weights = try loader.weightAndBias(name, weightShape: [outputs, inputs], biasShape: [outputs])
            return builder.add(name, .linear, inputs: [input], parameters: weights.parameters, sources: weights.sources)
        }
        func layerNorm(_ name: String, input: ValueID) throws -> ValueID {
            let weights = try loader.weightAndBias(name, weightShape: [hidden], biasShape: [hidden])
            return builder.add(name, .layerNorm(epsilon: configuration.layerNormEpsilon), inputs: [input],
                               parameters: weights.parameters, sources: weights.sources)
        }

        let words = try embedding("word_embeddings", rows: configuration.vocabularySize, input: inputIDs)
        let positions = try embedding("position_embeddings", rows: configuration.maximumPositions, input: positionIDs)
        let types = try embedding("token_type_embeddings", rows: configuration.typeVocabularySize, input: tokenTypeIDs)
        let withPositions = builder.add("embeddings.add_positions", .add, inputs: [words, positions])
        let summed = builder.add("embeddings.add_token_types", .add, inputs: [withPositions, types])
        var state = try layerNorm("embeddings.LayerNorm", input: summed)

        let attention = AttentionAttributes(heads: configuration.headCount, headSize: configuration.headSize)
        for layer in 0..<configuration.layerCount {
            let base = "encoder.layer.\(layer)"
            let query = try linear("\(base).attention.self.query", input: state, inputs: hidden, outputs: hidden)
            let key = try linear("\(base).attention.self.key", input: state, inputs: hidden, outputs: hidden)
            let value = try linear("\(base).attention.self.value", input: state, inputs: hidden, outputs: hidden)
            let context = builder.add("\(base).attention.self", .attention(attention), inputs: [query, key, value, mask])
            let projected = try linear("\(base).attention.output.dense", input: context, inputs: hidden, outputs: hidden)
            let residual = builder.add("\(base).attention.output.residual", .add, inputs: [projected, state])
            let attended = try layerNorm("\(base).attention.output.LayerNorm", input: residual)
            let expanded = try linear("\(base).intermediate.dense", input: attended,
                                      inputs: hidden, outputs: configuration.intermediateSize)
            let activated = builder.add("\(base).intermediate.activation", .activation(configuration.activation), inputs: [expanded])
            let contracted = try linear("\(base).output.dense", input: activated,
                                        inputs: configuration.intermediateSize, outputs: hidden)
            let residual2 = builder.add("\(base).output.residual", .add, inputs: [contracted, attended])
            state = try layerNorm("\(base).output.LayerNorm", input: residual2)
        }
        try rejectExtraLayers(store: store, prefix: prefix, layerCount: configuration.layerCount)

        var output = try pooling.append(to: &builder, hiddenState: state, mask: mask)
        if pooling.normalize {
            output = builder.add("normalize", .l2Normalize, inputs: [output])
        }
        return try builder.finish(outputs: [output])
    }

    private static func rejectExtraLayers(store: any WeightStore, prefix: String, layerCount: Int) throws {
        let layerPrefix = prefix + "encoder.layer."
        for info in store.tensors where info.name.hasPrefix(layerPrefix) {
            let rest = info.name.dropFirst(layerPrefix.count)
            if let index = Int(rest.prefix { $0 != "." }), index >= layerCount {
                throw ModelGraphError.unexpectedWeight(
                    path: store.path, tensor: info.name,
                    reason: "the checkpoint has encoder layer \(index) but config.json says num_hidden_layers = \(layerCount)")
            }
        }
    }
}

import ModelIO

/// The fields of a Hugging Face BERT `config.json` the graph builder needs.
public struct BertConfiguration: Sendable, Equatable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var intermediateSize: Int
    public var maximumPositions: Int
    public var typeVocabularySize: Int
    public var layerNormEpsilon: Float
    public var activation: ActivationKind

    /// Reads the configuration from parsed `config.json`; `path` names the file in errors.
    public init(json: JSONValue, path: String) throws {
        func integer(_ field: String) throws -> Int {
            guard let value = json[field] else {
                throw ModelGraphError.invalidConfig(path: path, field: field, reason: "missing")
            }
            guard let number = value.intValue, number > 0 else {
                throw ModelGraphError.invalidConfig(path: path, field: field, reason: "expected a positive integer")
            }
            return number
        }
        vocabularySize = try integer("vocab_size")
        hiddenSize = try integer("hidden_size")
        layerCount = try integer("num_hidden_layers")
        headCount = try integer("num_attention_heads")
        intermediateSize = try integer("intermediate_size")
        maximumPositions = try integer("max_position_embeddings")
        typeVocabularySize = json["type_vocab_size"] == nil ? 2 : try integer("type_vocab_size")
        guard hiddenSize % headCount == 0 else {
            throw ModelGraphError.invalidConfig(
                path: path, field: "num_attention_heads",
                reason: "hidden_size \(hiddenSize) is not divisible by \(headCount) heads")
        }
        if let epsilon = json["layer_norm_eps"] {
            guard let value = epsilon.doubleValue, value > 0 else {
                throw ModelGraphError.invalidConfig(path: path, field: "layer_norm_eps", reason: "expected a positive number")
            }
            layerNormEpsilon = Float(value)
        } else {
            layerNormEpsilon = 1e-12
        }
        let activationName = json["hidden_act"]?.stringValue ?? "gelu"
        switch activationName {
        case "gelu": activation = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": activation = .geluTanh
        case "relu": activation = .relu
        case "silu", "swish": activation = .silu
        default:
            throw ModelGraphError.invalidConfig(
                path: path, field: "hidden_act",
                reason: "'\(activationName)' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu, silu)")
        }
        if let embeddingType = json["position_embedding_type"]?.stringValue, embeddingType != "absolute" {
            throw ModelGraphError.invalidConfig(
                path: path, field: "position_embedding_type", reason: "'\(embeddingType)' is not supported (absolute)")
        }
    }

    /// Size of one attention head.
    public var headSize: Int { hiddenSize / headCount }
}

import ModelIO
import QuantCore

extension Op: Codable {
    private enum CodingKeys: String, CodingKey {
        case kind, epsilon, activation, attention, convolution, pool
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .kind)
        switch kind {
        case "embedding": self = .embedding
        case "linear": self = .linear
        case "layer_norm": self = .layerNorm(epsilon: try container.decode(Float.self, forKey: .epsilon))
        case "activation": self = .activation(try container.decode(ActivationKind.self, forKey: .activation))
        case "bounded_relu": self = .boundedReLU
        case "add": self = .add
        case "mul": self = .mul
        case "attention": self = .attention(try container.decode(AttentionAttributes.self, forKey: .attention))
        case "mean_pool": self = .meanPool
        case "l2_normalize": self = .l2Normalize
        case "conv2d": self = .conv2d(try container.decode(Convolution2DAttributes.self, forKey: .convolution))
        case "batch_norm": self = .batchNorm(epsilon: try container.decode(Float.self, forKey: .epsilon))
        case "pool2d": self = .pool2d(try container.decode(Pool2DAttributes.self, forKey: .pool))
        case "global_average_pool": self = .globalAveragePool
        case "flatten": self = .flatten
        case "softmax": self = .softmax
        default:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription: "unknown op kind '\(kind)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .embedding: try container.encode("embedding", forKey: .kind)
        case .linear: try container.encode("linear", forKey: .kind)
        case let .layerNorm(epsilon):
            try container.encode("layer_norm", forKey: .kind)
            try container.encode(epsilon, forKey: .epsilon)
        case let .activation(kind):
            try container.encode("activation", forKey: .kind)
            try container.encode(kind, forKey: .activation)
        case .boundedReLU: try container.encode("bounded_relu", forKey: .kind)
        case .add: try container.encode("add", forKey: .kind)
        case .mul: try container.encode("mul", forKey: .kind)
        case let .attention(attributes):
            try container.encode("attention", forKey: .kind)
            try container.encode(attributes, forKey: .attention)
        case .meanPool: try container.encode("mean_pool", forKey: .kind)
        case .l2Normalize: try container.encode("l2_normalize", forKey: .kind)
        case let .conv2d(attributes):
            try container.encode("conv2d", forKey: .kind)
            try container.encode(attributes, forKey: .convolution)
        case let .batchNorm(epsilon):
            try container.encode("batch_norm", forKey: .kind)
            try container.encode(epsilon, forKey: .epsilon)
        case let .pool2d(attributes):
            try container.encode("pool2d", forKey: .kind)
            try container.encode(attributes, forKey: .pool)
        case .globalAveragePool: try container.encode("global_average_pool", forKey: .kind)
        case .flatten: try container.encode("flatten", forKey: .kind)
        case .softmax: try container.encode("softmax", forKey: .kind)
        }
    }
}

/// A graph's structure without its weights: what a compressed model folder stores as
/// `graph.json` so the runtime can rebuild a model whose structure no front end describes
/// any more (batch norms folded away, layers equalized). Parameters are named by the
/// checkpoint tensor that holds them, in the graph's own layouts (OHWI convolutions).
public struct GraphDescription: Sendable, Equatable, Codable {
    /// The schema version of `graph.json`.
    public static let formatVersion = 1
    /// The file name inside a compressed model folder.
    public static let fileName = "graph.json"

    public struct NodeDescription: Sendable, Equatable, Codable {
        public var name: String
        public var op: Op
        public var inputs: [Int]
        public var output: Int
        /// Checkpoint tensor name by parameter role.
        public var parameters: [String: String]
    }

    public struct InputDescription: Sendable, Equatable, Codable {
        public var name: String
        public var value: Int
    }

    public var formatVersion: Int
    public var inputs: [InputDescription]
    public var nodes: [NodeDescription]
    public var outputs: [Int]

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case inputs, nodes, outputs
    }

    /// Describes `graph`. Every parameter must have a checkpoint name.
    public init(_ graph: Graph) throws {
        formatVersion = Self.formatVersion
        inputs = graph.inputs.map { InputDescription(name: $0.name, value: $0.value.rawValue) }
        outputs = graph.outputs.map(\.rawValue)
        nodes = try graph.nodes.map { node in
            for role in node.parameters.keys where node.parameterSources[role] == nil {
                throw ModelGraphError.invalidGraph(node: node.name, reason: "parameter '\(role)' has no checkpoint name")
            }
            return NodeDescription(name: node.name, op: node.op, inputs: node.inputs.map(\.rawValue),
                                   output: node.output.rawValue, parameters: node.parameterSources)
        }
    }

    /// Rebuilds the graph with its parameters read from `store` (each must be finite).
    public func graph(weights store: any WeightStore) throws -> Graph {
        guard formatVersion == Self.formatVersion else {
            throw ModelGraphError.invalidConfig(path: store.path, field: "format_version",
                                                reason: "\(formatVersion), this build reads \(Self.formatVersion)")
        }
        let nodes = try self.nodes.map { description in
            var parameters: [String: Tensor] = [:]
            for (role, source) in description.parameters {
                guard store.info(named: source) != nil else { throw ModelGraphError.missingWeight(path: store.path, tensor: source) }
                let tensor = try store.floatTensor(named: source)
                guard tensor.scalars.allSatisfy(\.isFinite) else { throw ModelGraphError.nonFiniteWeight(path: store.path, tensor: source) }
                parameters[role] = tensor
            }
            return Node(name: description.name, op: description.op, inputs: description.inputs.map(ValueID.init),
                        output: ValueID(description.output), parameters: parameters, parameterSources: description.parameters)
        }
        let graph = Graph(inputs: inputs.map { GraphInput(name: $0.name, value: ValueID($0.value)) }, nodes: nodes,
                          outputs: outputs.map(ValueID.init))
        try graph.validate()
        return graph
    }
}

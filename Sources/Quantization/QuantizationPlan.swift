import ModelGraph
import QuantCore

/// Which tensors get which quantizer: weights of quantizable layers, and the outputs of the
/// ops that carry activation quantizers.
public struct QuantizationPlan: Sendable, Equatable {
    /// A weight to quantize.
    public struct WeightTarget: Sendable, Equatable {
        /// The node holding the weight.
        public var node: String
        /// The checkpoint name of the weight (`….weight`).
        public var tensor: String
        public var scheme: QuantScheme
        public var estimator: RangeEstimator
    }

    /// An activation quantizer on a node's output.
    public struct ActivationTarget: Sendable, Equatable {
        /// The node whose output is quantized.
        public var node: String
        public var scheme: QuantScheme
        public var estimator: RangeEstimator
    }

    public var weights: [WeightTarget]
    public var activations: [ActivationTarget]
    /// Why some candidates got no quantizer (supergroups, keep-float patterns).
    public var notes: [String]

    /// The default plan for `graph` under `recipe`:
    /// - weights: every linear and convolution layer (recipe.weights) and embedding table
    ///   (recipe.embeddings),
    ///   except names matching `keepWeightsFloat`;
    /// - activations (unless float): the output of every op, except supergroup members (see
    ///   `supergroupReason`), flatten, embedding lookups (their rows are already on the weight
    ///   grid), and names matching `keepFloat`. Softmax and layer-norm internals stay float
    ///   inside their ops.
    public init(graph: Graph, recipe: QuantizationRecipe) throws {
        var weights: [WeightTarget] = []
        var notes: [String] = []
        for node in graph.nodes where node.op.hasQuantizableWeight {
            guard let source = node.parameterSources["weight"] else { continue }
            if NamePattern.matchesAny(node.name, recipe.keepWeightsFloat) {
                notes.append("weights of \(node.name) kept float (keep_weights_float)")
                continue
            }
            switch node.op {
            case .embedding:
                guard let scheme = recipe.embeddings else { continue }
                weights.append(WeightTarget(node: node.name, tensor: source, scheme: scheme, estimator: .minMax))
            case .conv2d:
                let (scheme, note) = try QuantizationPlan.convolutionScheme(recipe.weightScheme(for: node.name), node: node)
                if let note { notes.append(note) }
                weights.append(WeightTarget(node: node.name, tensor: source, scheme: scheme, estimator: recipe.weightEstimator))
            default:
                weights.append(WeightTarget(node: node.name, tensor: source, scheme: recipe.weightScheme(for: node.name),
                                            estimator: recipe.weightEstimator))
            }
        }
        var activations: [ActivationTarget] = []
        if recipe.activations.bits != nil {
            let consumers = QuantizationPlan.consumers(of: graph)
            for node in graph.nodes {
                if case .embedding = node.op { continue }
                if NamePattern.matchesAny(node.name, recipe.keepFloat) { continue }
                if let reason = QuantizationPlan.supergroupReason(node, consumers: consumers[node.output] ?? []) {
                    notes.append(reason)
                    continue
                }
                guard let bits = recipe.activationBits(for: node.name) else { continue }
                let scheme = try QuantScheme(bits: bits, symmetry: recipe.activationSymmetry, granularity: .perTensor)
                activations.append(ActivationTarget(node: node.name, scheme: scheme, estimator: recipe.activationEstimator))
            }
        }
        self.weights = weights
        self.activations = activations
        self.notes = notes
    }

    /// A linear-layer scheme adapted to a convolution's OHWI weight `[out, kh, kw, in]`: blocks
    /// run along the input channels (axis 3, the contiguous axis, as a linear layer's blocks run
    /// along axis 1); a convolution with too few input channels per group for one block (e.g.
    /// depthwise) gets one scale per output channel instead, with a note.
    static func convolutionScheme(_ scheme: QuantScheme, node: Node) throws -> (QuantScheme, String?) {
        guard case let .perBlock(_, size) = scheme.granularity, let weight = node.parameters["weight"], weight.rank == 4 else {
            return (scheme, nil)
        }
        if weight.shape[3] % size == 0 {
            return (try QuantScheme(bits: scheme.bits, symmetry: scheme.symmetry, granularity: .perBlock(axis: 3, size: size)), nil)
        }
        return (try QuantScheme(bits: scheme.bits, symmetry: scheme.symmetry, granularity: .perChannel(axis: 0)),
                "\(node.name): \(weight.shape[3]) input channel(s) per group do not split into blocks of \(size); one scale per output channel instead")
    }

    /// Why `node`'s output carries no quantizer of its own, or nil when it does: a linear,
    /// convolution or batch norm read only by an activation function (or a linear /
    /// convolution read only by a batch norm) forms one supergroup with it, quantized at
    /// the end, as AIMET does; a flatten only moves data that is already quantized.
    static func supergroupReason(_ node: Node, consumers readers: [Node]) -> String? {
        if node.op == .flatten { return "\(node.name): flatten keeps its input's grid" }
        let isWeighted: Bool
        switch node.op {
        case .linear, .conv2d: isWeighted = true
        case .batchNorm: isWeighted = false
        default: return nil
        }
        guard readers.count == 1 else { return nil }
        switch readers[0].op {
        case .activation, .boundedReLU:
            return "\(node.name) + \(readers[0].name): one supergroup, quantized after the activation"
        case .batchNorm where isWeighted:
            return "\(node.name) + \(readers[0].name): one supergroup, quantized after the batch norm"
        default:
            return nil
        }
    }

    /// For each value, the nodes that read it, in graph order.
    static func consumers(of graph: Graph) -> [ValueID: [Node]] {
        var result: [ValueID: [Node]] = [:]
        for node in graph.nodes {
            for input in Set(node.inputs) { result[input, default: []].append(node) }
        }
        return result
    }
}

import ModelGraph
import QuantCore

/// One batch normalisation folded into a convolution or linear layer.
public struct FoldedBatchNorm: Sendable, Equatable, Codable {
    /// Which side of the batch norm the layer was on.
    public enum Direction: String, Sendable, Codable {
        /// `layer → batchNorm`: the layer's output channels absorbed the affine map.
        case intoPreceding = "into_preceding"
        /// `batchNorm → layer`: the layer's input channels absorbed the affine map.
        case intoFollowing = "into_following"
    }

    /// The batch-norm node that was removed.
    public var batchNorm: String
    /// The layer that absorbed it.
    public var layer: String
    public var direction: Direction
    /// The batch norm's scale γ (its `weight`), per channel. After folding into the preceding
    /// layer, that layer's output channel `c` is distributed roughly as N(β_c, γ_c²) on the
    /// data the statistics came from; high-bias absorption relies on this.
    public var gamma: [Float]
    /// The batch norm's shift β (its `bias`), per channel.
    public var beta: [Float]

    public init(batchNorm: String, layer: String, direction: Direction, gamma: [Float], beta: [Float]) {
        self.batchNorm = batchNorm
        self.layer = layer
        self.direction = direction
        self.gamma = gamma
        self.beta = beta
    }
}

/// What batch-norm folding did: the folds, and the batch norms left in the graph with why.
public struct BatchNormFoldingReport: Sendable, Equatable, Codable {
    /// A batch norm that stays in the graph.
    public struct Skipped: Sendable, Equatable, Codable {
        public var batchNorm: String
        public var reason: String
        public init(batchNorm: String, reason: String) {
            self.batchNorm = batchNorm
            self.reason = reason
        }
    }

    public var folded: [FoldedBatchNorm]
    public var skipped: [Skipped]

    public init(folded: [FoldedBatchNorm], skipped: [Skipped]) {
        self.folded = folded
        self.skipped = skipped
    }

    /// The folds into a preceding layer, by that layer's name (what high-bias absorption needs).
    public var foldedIntoPrecedingByLayer: [String: FoldedBatchNorm] {
        var result: [String: FoldedBatchNorm] = [:]
        for fold in folded where fold.direction == .intoPreceding { result[fold.layer] = fold }
        return result
    }

    /// Human-readable summary, one fact per line.
    public var lines: [String] {
        if folded.isEmpty && skipped.isEmpty { return ["batch-norm folding: the graph has no batch norms; nothing changed"] }
        var lines: [String] = []
        if folded.isEmpty {
            lines.append("batch-norm folding: no foldable batch norm; the graph is unchanged")
        } else {
            let preceding = folded.filter { $0.direction == .intoPreceding }.count
            lines.append("batch-norm folding: folded \(folded.count) batch norm(s) (\(preceding) into the preceding layer, "
                         + "\(folded.count - preceding) into the following layer)")
        }
        for fold in folded {
            let side = fold.direction == .intoPreceding ? "preceding" : "following"
            lines.append("  folded \(fold.batchNorm) into the \(side) layer \(fold.layer)")
        }
        for skip in skipped { lines.append("  kept \(skip.batchNorm): \(skip.reason)") }
        return lines
    }
}

/// Folds inference batch norms into adjacent convolution / linear layers (AIMET's
/// `fold_all_batch_norms`).
///
/// With `a = γ / √(σ² + ε)` and `d = β − a·μ` per channel, a batch norm is `x ↦ a·x + d`:
/// - **into the preceding layer** (`conv → bn`, the conv's output read only by the batch norm):
///   output channel `o` gets `W'[o] = a_o·W[o]` and `b'_o = a_o·b_o + d_o` (a layer without a
///   bias gains one). Exact.
/// - **into the following layer** (`bn → conv`, the batch norm's output read only by that
///   layer, used when there is no preceding layer to take it): `W'[o, ·, c] = W[o, ·, c]·a_c`
///   and `b'_o = b_o + Σ W[o, ·, c]·d_c`. Exact only when the layer does not zero-pad its input
///   (a padded pixel would have to be `d`, not 0), so padded convolutions are skipped.
public enum BatchNormFolding {
    static let technique = "batch-norm folding"

    /// `graph` with every foldable batch norm folded, and what happened to each batch norm.
    /// A graph without foldable pairs comes back unchanged, and the report says so.
    public static func fold(_ graph: Graph) throws -> (Graph, BatchNormFoldingReport) {
        var nodes = graph.nodes
        var folded: [FoldedBatchNorm] = []
        var skipped: [BatchNormFoldingReport.Skipped] = []
        var index = 0
        while index < nodes.count {
            guard case let .batchNorm(epsilon) = nodes[index].op else {
                index += 1
                continue
            }
            let batchNorm = nodes[index]
            let affine = try BatchNormAffine(batchNorm, epsilon: epsilon)
            let readers = GraphReaders(Graph(inputs: graph.inputs, nodes: nodes, outputs: graph.outputs))
            guard batchNorm.inputs.count == 1 else {
                throw QuantizationPipelineError.invalidTechniqueInput(technique: technique, node: batchNorm.name,
                                                                      reason: "has \(batchNorm.inputs.count) inputs, expected 1")
            }
            let input = batchNorm.inputs[0]

            // Into the preceding layer.
            let precedingReason: String
            if let producer = nodes.firstIndex(where: { $0.output == input }) {
                let layerNode = nodes[producer]
                if !layerNode.op.isConvolutionOrLinear {
                    precedingReason = "its input comes from \(layerNode.op.kindName) \(layerNode.name)"
                } else if readers.of(input).count != 1 || readers.isGraphOutput(input) {
                    precedingReason = "the output of \(layerNode.name) is also read elsewhere (\(readers.of(input).count) reads"
                        + (readers.isGraphOutput(input) ? ", and it is a graph output)" : ")")
                } else {
                    var layer = try WeightedLayer(layerNode, technique: technique)
                    guard layer.outputChannels == affine.channels else {
                        throw channelMismatch(batchNorm, layer: layer.name, expected: layer.outputChannels, actual: affine.channels)
                    }
                    layer.scaleOutputs(by: affine.scale)
                    for channel in 0..<layer.outputChannels { layer.bias[channel] += affine.shift[channel] }
                    layer.store(into: &nodes[producer], addsBias: true)
                    nodes[producer].output = batchNorm.output
                    nodes.remove(at: index)
                    folded.append(FoldedBatchNorm(batchNorm: batchNorm.name, layer: layerNode.name, direction: .intoPreceding,
                                                  gamma: affine.gamma, beta: affine.beta))
                    continue
                }
            } else {
                precedingReason = "its input is a graph input"
            }

            // Into the following layer.
            let followingReason: String
            let consumers = readers.of(batchNorm.output)
            if readers.isGraphOutput(batchNorm.output) {
                followingReason = "its output is a graph output"
            } else if consumers.count != 1 {
                followingReason = "its output is read \(consumers.count) times"
            } else if !nodes[consumers[0]].op.isConvolutionOrLinear || nodes[consumers[0]].inputs.first != batchNorm.output {
                let consumer = nodes[consumers[0]]
                followingReason = "its output feeds \(consumer.op.kindName) \(consumer.name), not a conv2d or linear layer's input"
            } else {
                var layer = try WeightedLayer(nodes[consumers[0]], technique: technique)
                guard layer.inputChannels == affine.channels else {
                    throw channelMismatch(batchNorm, layer: layer.name, expected: layer.inputChannels, actual: affine.channels)
                }
                if layer.padsInput {
                    followingReason = "the following \(layer.name) zero-pads its input, so folding into it would be inexact at the borders"
                } else {
                    let shift = layer.response(toConstantInput: affine.shift)
                    layer.scaleInputs(by: affine.scale)
                    for channel in 0..<layer.outputChannels { layer.bias[channel] += shift[channel] }
                    layer.store(into: &nodes[consumers[0]], addsBias: true)
                    nodes[consumers[0]].inputs[0] = input
                    nodes.remove(at: index)
                    folded.append(FoldedBatchNorm(batchNorm: batchNorm.name, layer: layer.name, direction: .intoFollowing,
                                                  gamma: affine.gamma, beta: affine.beta))
                    continue
                }
            }
            skipped.append(.init(batchNorm: batchNorm.name, reason: "no layer to fold into: \(precedingReason); \(followingReason)"))
            index += 1
        }
        let result = Graph(inputs: graph.inputs, nodes: nodes, outputs: graph.outputs)
        try result.validate()
        return (result, BatchNormFoldingReport(folded: folded, skipped: skipped))
    }

    private static func channelMismatch(_ batchNorm: Node, layer: String, expected: Int, actual: Int) -> QuantizationPipelineError {
        .invalidTechniqueInput(technique: technique, node: batchNorm.name,
                               reason: "has \(actual) channels, but the adjacent layer \(layer) has \(expected)")
    }
}

/// A batch norm as the per-channel affine map `x ↦ scale·x + shift`, with its γ and β.
struct BatchNormAffine {
    let gamma: [Float]
    let beta: [Float]
    let scale: [Double]
    let shift: [Double]
    var channels: Int { gamma.count }

    init(_ node: Node, epsilon: Float) throws {
        func invalid(_ reason: String) -> QuantizationPipelineError {
            .invalidTechniqueInput(technique: BatchNormFolding.technique, node: node.name, reason: reason)
        }
        var parameters: [[Float]] = []
        for role in ["weight", "bias", "mean", "variance"] {
            guard let tensor = node.parameters[role] else { throw invalid("has no \(role)") }
            guard tensor.scalars.allSatisfy(\.isFinite) else { throw invalid("\(role) contains NaN or infinity") }
            parameters.append(tensor.scalars)
        }
        let channels = parameters[0].count
        guard parameters.allSatisfy({ $0.count == channels }) else {
            throw invalid("parameters have different lengths \(parameters.map(\.count))")
        }
        var scale = [Double](), shift = [Double]()
        for channel in 0..<channels {
            let denominator = Double(parameters[3][channel]) + Double(epsilon)
            guard denominator > 0 else { throw invalid("variance + epsilon of channel \(channel) is not positive") }
            let factor = Double(parameters[0][channel]) / denominator.squareRoot()
            scale.append(factor)
            shift.append(Double(parameters[1][channel]) - factor * Double(parameters[2][channel]))
        }
        gamma = parameters[0]
        beta = parameters[1]
        self.scale = scale
        self.shift = shift
    }
}

extension Op {
    /// True for conv2d and linear, the layers the graph techniques rewrite.
    var isConvolutionOrLinear: Bool {
        switch self {
        case .conv2d, .linear: return true
        default: return false
        }
    }
}

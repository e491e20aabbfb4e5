import Foundation
import ModelGraph
import QuantCore
import Runtime

/// What AdaRound did to one layer.
public struct AdaRoundLayerReport: Sendable, Equatable, Codable {
    /// The layer (node) and its checkpoint weight.
    public var node: String
    public var tensor: String
    public var iterations: Int
    /// Calibration rows the layer was optimised on.
    public var rows: Int
    /// Reconstruction losses (squared error summed over outputs, mean over rows) on all rows.
    public var nearestLoss: Double
    public var adaRoundLoss: Double
    /// Nearest rounding was kept because it reconstructed at least as well.
    public var keptNearest: Bool
    /// Weights rounded the other way than nearest rounding would.
    public var flippedWeights: Int
    /// Wall time of the layer (progress display only; not stored, so calibration files stay
    /// identical from run to run).
    public var seconds: Double = 0

    enum CodingKeys: String, CodingKey {
        case node, tensor, iterations, rows
        case nearestLoss = "nearest_loss"
        case adaRoundLoss = "adaround_loss"
        case keptNearest = "kept_nearest"
        case flippedWeights = "flipped_weights"
    }
}

/// AdaRound over a graph's linear layers, layer by layer in graph order (AIMET's sequential
/// mode): each layer learns from its inputs in the model whose earlier layers are already
/// AdaRounded (and whose other weights are quantized with their encodings), with the fp32
/// model's output of that layer as the target. Activations stay float while rounding is
/// learned (as in AIMET, whose AdaRound model has activation quantizers disabled); activation
/// encodings are computed afterwards on the adjusted weights.
public enum AdaRoundModel {
    /// Runs every calibration sample through `executor`, calling `tap` for each node.
    public typealias SampleRunner = (_ executor: GraphExecutor, _ tap: ActivationTap) throws -> Void
    /// Progress: (layers done, layers in total, the report of the layer just done).
    public typealias Progress = (Int, Int, AdaRoundLayerReport) -> Void

    /// The result of AdaRound on a model.
    public struct Result: Sendable {
        /// Adjusted weights (on their encodings' grids) by checkpoint tensor name.
        public var weights: [String: Tensor]
        public var layers: [AdaRoundLayerReport]
        public var notes: [String]
    }

    /// AdaRounds the linear layers among `targets` (weights of other ops are left alone).
    /// - Parameters:
    ///   - iterations: per layer; nil uses AIMET's default for each layer's bit width. The Adam
    ///     step stays AIMET's for any count: a step scaled up for short runs (keeping the default
    ///     run's total travel of V) halved the calibration loss on MiniLM W4 but overfit the 64
    ///     calibration sentences (held-out cosine 0.895, below nearest rounding's 0.923).
    public static func apply(graph: Graph, targets: [QuantizationPlan.WeightTarget], encodings: [String: Encoding],
                             iterations: Int?, parameters base: AdaRoundParameters = AdaRoundParameters(iterations: 0),
                             threads: Int = ProcessInfoCores.active, runSamples: SampleRunner,
                             progress: Progress? = nil) throws -> Result {
        var notes: [String] = []
        // The layers, and the node whose output each one reads.
        var layers: [(target: QuantizationPlan.WeightTarget, node: Node, producer: String)] = []
        for target in targets {
            guard let node = graph.node(named: target.node), node.op == .linear, encodings[target.tensor] != nil else { continue }
            guard let input = node.inputs.first, let producer = graph.producer(of: input) else {
                notes.append("AdaRound skipped \(node.name): its input is a graph input, which no tap sees")
                continue
            }
            layers.append((target, node, producer.name))
        }
        guard !layers.isEmpty else { return Result(weights: [:], layers: [], notes: notes) }

        // fp32 inputs of every layer, from one pass of the fp32 model.
        let floatTap = RowCaptureTap(nodes: Set(layers.map(\.producer)))
        try runSamples(GraphExecutor(graph: graph, threads: threads), floatTap)

        // Layers that read the same value (query, key, value) learn from one quantized pass.
        var stages: [[Int]] = []
        for index in layers.indices {
            if let last = stages.last?.last, layers[last].producer == layers[index].producer {
                stages[stages.count - 1].append(index)
            } else {
                stages.append([index])
            }
        }
        var quantized = try QuantizationSimulator.applyingWeightEncodings(encodings, to: graph)
        var adjusted: [String: Tensor] = [:]
        var reports: [AdaRoundLayerReport] = []
        for stage in stages {
            let producer = layers[stage[0]].producer
            let tap = RowCaptureTap(nodes: [producer])
            try runSamples(GraphExecutor(graph: quantized, threads: threads), tap)
            let quantizedInputs = tap.rows[producer] ?? []
            let floatInputs = floatTap.rows[producer] ?? []
            let sampleRows = tap.sampleRows[producer] ?? []
            precondition(quantizedInputs.count == floatInputs.count && sampleRows == floatTap.sampleRows[producer] ?? [],
                         "the fp32 and quantized passes saw different inputs")
            for index in stage {
                let (target, node, _) = layers[index]
                let started = Date()
                guard let weight = node.parameters["weight"], weight.rank == 2, let encoding = encodings[target.tensor],
                      !sampleRows.isEmpty, quantizedInputs.count == sampleRows.reduce(0, +) * weight.shape[1] else {
                    notes.append("AdaRound skipped \(node.name): its weight or inputs do not form a matrix product")
                    continue
                }
                var parameters = base
                parameters.iterations = iterations ?? AdaRoundParameters.defaultIterations(bits: encoding.scheme.bits)
                parameters.seed = base.seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
                let data = AdaRoundLayerData(quantizedInputs: quantizedInputs, floatInputs: floatInputs, weight: weight,
                                             sampleRows: sampleRows, threads: threads)
                guard let result = try AdaRoundLayer.optimize(weight: weight, encoding: encoding, data: data,
                                                              parameters: parameters, threads: threads) else {
                    notes.append("AdaRound skipped \(node.name): granularity \(encoding.scheme.granularity) is not supported")
                    continue
                }
                if result.keptNearest {
                    notes.append("AdaRound kept nearest rounding for \(node.name): loss \(result.adaRoundLoss) ≥ nearest \(result.nearestLoss)")
                }
                adjusted[target.tensor] = result.weight
                if let position = quantized.nodes.firstIndex(where: { $0.name == node.name }) {
                    quantized.nodes[position].parameters["weight"] = result.weight
                }
                let report = AdaRoundLayerReport(node: node.name, tensor: target.tensor, iterations: parameters.iterations,
                                                 rows: data.rows, nearestLoss: result.nearestLoss, adaRoundLoss: result.adaRoundLoss,
                                                 keptNearest: result.keptNearest, flippedWeights: result.flippedWeights,
                                                 seconds: Date().timeIntervalSince(started))
                reports.append(report)
                progress?(reports.count, layers.count, report)
            }
        }
        return Result(weights: adjusted, layers: reports, notes: notes)
    }
}

/// Records the output rows of chosen nodes: every call appends `shape[0]` samples of
/// `count / (shape[0] · features)` rows each (features = the last axis).
final class RowCaptureTap: ActivationTap, @unchecked Sendable {
    let nodes: Set<String>
    var rows: [String: [Float]] = [:]
    var sampleRows: [String: [Int]] = [:]

    init(nodes: Set<String>) { self.nodes = nodes }

    func nodeDidRun(_ node: Node, output: inout Tensor) {
        guard nodes.contains(node.name), let features = output.shape.last, features > 0, output.rank >= 2 else { return }
        let samples = output.shape[0]
        guard samples > 0 else { return }
        rows[node.name, default: []].append(contentsOf: output.scalars)
        sampleRows[node.name, default: []].append(contentsOf: repeatElement(output.count / (samples * features), count: samples))
    }
}

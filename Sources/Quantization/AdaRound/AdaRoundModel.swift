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
    /// Convolutions: output positions sampled per calibration image, and the positions each
    /// image had (the rows are a seeded subsample when the first is smaller); nil for linear layers.
    public var rowsPerSample: Int?
    public var positionsPerSample: Int?
    /// Wall time of the layer (progress display only; not stored, so calibration files stay
    /// identical from run to run).
    public var seconds: Double = 0

    enum CodingKeys: String, CodingKey {
        case node, tensor, iterations, rows
        case nearestLoss = "nearest_loss"
        case adaRoundLoss = "adaround_loss"
        case keptNearest = "kept_nearest"
        case flippedWeights = "flipped_weights"
        case rowsPerSample = "rows_per_sample"
        case positionsPerSample = "positions_per_sample"
    }
}

/// AdaRound over a graph's linear and convolution layers, layer by layer in graph order
/// (AIMET's sequential mode): each layer learns from its inputs in the model whose earlier
/// layers are already AdaRounded (and whose other weights are quantized with their
/// encodings), with the fp32 model's output of that layer (without bias) as the target.
/// Activations stay float while rounding is learned (as in AIMET, whose AdaRound model has
/// activation quantizers disabled); activation encodings are computed afterwards on the
/// adjusted weights.
///
/// A convolution is a matrix product on im2col rows (`AdaRoundConvolution`); since every
/// output position is a row (112×112 per image early in MobileNetV2), each image contributes
/// a seeded sample of at most `parameters.rowsPerSample` positions (fewer when
/// `parameters.maximumRows` or a memory budget requires), the same positions in the fp32
/// and the quantized pass. Batches still draw `batchSize` images per step, as AIMET does.
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

    /// AdaRounds the linear and convolution layers among `targets` (weights of other ops are
    /// left alone) on samples run by `runSamples`. Convolutions that read a graph input are
    /// skipped (no tap sees graph inputs; the `feeds:` variant handles them).
    /// - Parameters:
    ///   - iterations: per layer; nil uses AIMET's default for each layer's bit width. The Adam
    ///     step stays AIMET's for any count: a step scaled up for short runs (keeping the default
    ///     run's total travel of V) halved the calibration loss on MiniLM W4 but overfit the 64
    ///     calibration sentences (held-out cosine 0.895, below nearest rounding's 0.923).
    public static func apply(graph: Graph, targets: [QuantizationPlan.WeightTarget], encodings: [String: Encoding],
                             iterations: Int?, parameters base: AdaRoundParameters = AdaRoundParameters(iterations: 0),
                             threads: Int = ProcessInfoCores.active, runSamples: SampleRunner,
                             progress: Progress? = nil) throws -> Result {
        try apply(graph: graph, targets: targets, encodings: encodings, iterations: iterations, base: base, threads: threads,
                  sampleCount: nil, observesGraphInputs: false, runner: { executor, tap, _ in try runSamples(executor, tap) },
                  progress: progress)
    }

    /// AdaRound on `feeds` (one `[input name: tensor]` per run; every image of a batch is one
    /// sample), including convolutions that read a graph input.
    public static func apply(graph: Graph, targets: [QuantizationPlan.WeightTarget], encodings: [String: Encoding],
                             iterations: Int?, parameters base: AdaRoundParameters = AdaRoundParameters(iterations: 0),
                             threads: Int = ProcessInfoCores.active, feeds: [[String: Tensor]],
                             progress: Progress? = nil) throws -> Result {
        try apply(graph: graph, targets: targets, encodings: encodings, iterations: iterations, base: base, threads: threads,
                  sampleCount: sampleCount(of: feeds, graph: graph), observesGraphInputs: true, runner: feedRunner(feeds),
                  progress: progress)
    }

    /// Calibration samples in `feeds`: the batch size of the graph's first input in each feed.
    static func sampleCount(of feeds: [[String: Tensor]], graph: Graph) -> Int {
        feeds.reduce(0) { total, feed in total + (graph.inputs.first.flatMap { feed[$0.name]?.shape.first } ?? 1) }
    }

    /// Runs every feed, telling the convolution tap (if any) about it first.
    static func feedRunner(_ feeds: [[String: Tensor]]) -> CaptureRunner {
        { executor, tap, convolutionTap in
            for feed in feeds {
                convolutionTap?.observe(feed: feed)
                _ = try executor.run(inputs: feed, tap: tap)
            }
        }
    }

    typealias CaptureRunner = SequentialLayerWalk.CaptureRunner

    static func apply(graph: Graph, targets: [QuantizationPlan.WeightTarget], encodings: [String: Encoding],
                      iterations: Int?, base: AdaRoundParameters, threads: Int, sampleCount: Int?, observesGraphInputs: Bool,
                      runner: CaptureRunner, progress: Progress?) throws -> Result {
        var notes: [String] = []
        var adjusted: [String: Tensor] = [:]
        var reports: [AdaRoundLayerReport] = []
        let walkNotes = try SequentialLayerWalk.run(
            graph: graph, targets: targets, encodings: encodings, parameters: base, threads: threads, sampleCount: sampleCount,
            observesGraphInputs: observesGraphInputs, technique: "AdaRound", runner: runner) { problem in
            let (target, node) = (problem.target, problem.node)
            guard let encoding = encodings[target.tensor], let original = node.parameters["weight"] else { return nil }
            var parameters = base
            parameters.iterations = iterations ?? AdaRoundParameters.defaultIterations(bits: encoding.scheme.bits)
            parameters.seed = base.seed &+ UInt64(problem.index) &* 0x9E37_79B9_7F4A_7C15
            guard let result = try AdaRoundLayer.optimize(weight: problem.weight, encoding: encoding, data: problem.data,
                                                          parameters: parameters, threads: threads) else {
                notes.append("AdaRound skipped \(node.name): granularity \(encoding.scheme.granularity) is not supported")
                return nil
            }
            if result.keptNearest {
                notes.append("AdaRound kept nearest rounding for \(node.name): loss \(result.adaRoundLoss) ≥ nearest \(result.nearestLoss)")
            }
            adjusted[target.tensor] = Tensor(shape: original.shape, scalars: result.weight.scalars)
            var report = AdaRoundLayerReport(node: node.name, tensor: target.tensor, iterations: parameters.iterations,
                                             rows: problem.data.rows, nearestLoss: result.nearestLoss, adaRoundLoss: result.adaRoundLoss,
                                             keptNearest: result.keptNearest, flippedWeights: result.flippedWeights)
            report.rowsPerSample = problem.rowsPerSample
            report.positionsPerSample = problem.positionsPerSample
            report.seconds = Date().timeIntervalSince(problem.started)
            reports.append(report)
            progress?(reports.count, problem.layerCount, report)
            return result.weight
        }
        return Result(weights: adjusted, layers: reports, notes: walkNotes + notes)
    }
}

import Foundation
import ModelGraph
import QuantCore
import Runtime

/// Sequential MSE (AIMET's `apply_seq_mse`): chooses the weight encodings of the linear and
/// convolution layers by searching, layer by layer in graph order, the clipping range whose
/// quantized weights best reproduce the fp32 layer's output on calibration data
/// (`SequentialMSELayer`). Each layer sees its inputs in the model whose earlier layers already
/// use their chosen encodings (`SequentialLayerWalk`), so later layers make up for the error of
/// earlier ones. Unlike a range estimator, which looks at the weights alone, the search weighs
/// each weight by how much the inputs exercise it, which matters where a few input channels are
/// much larger than the rest (MiniLM's residual stream).
///
/// It changes encodings only, never weights: AdaRound (which learns the rounding within a
/// grid) runs after it on the chosen grids.
public enum SequentialMSE {
    /// The chosen encodings and what the search did.
    public struct Result: Sendable {
        /// Every planned weight's encoding: the chosen ones, and the given ones for layers the
        /// search did not reach (embeddings, skipped layers).
        public var encodings: [String: Encoding]
        public var layers: [SequentialMSELayerReport]
        public var notes: [String]

        /// A one-line summary for calibration notes.
        public var summary: String {
            let changed = layers.filter { $0.changedGroups > 0 }.count
            let before = layers.reduce(0) { $0 + $1.estimatorLoss }, after = layers.reduce(0) { $0 + $1.loss }
            let ratio = before > 0 ? after / before : 1
            return "sequential MSE chose the weight ranges of \(changed) of \(layers.count) layers on calibration data "
                + String(format: "(summed reconstruction loss %.3g → %.3g, ×%.3f)", before, after, ratio)
        }
    }

    /// Searches the encodings of the layers among `targets` on samples run by `runSamples`
    /// (layers that read a graph input are skipped with a note).
    public static func apply(graph: Graph, targets: [QuantizationPlan.WeightTarget], encodings: [String: Encoding],
                             parameters: SequentialMSEParameters = SequentialMSEParameters(), threads: Int = ProcessInfoCores.active,
                             runSamples: AdaRoundModel.SampleRunner) throws -> Result {
        try apply(graph: graph, targets: targets, encodings: encodings, parameters: parameters, threads: threads, sampleCount: nil,
                  observesGraphInputs: false, runner: { executor, tap, _ in try runSamples(executor, tap) })
    }

    /// Sequential MSE on `feeds` (one `[input name: tensor]` per run; every image of a batch is
    /// one sample), including convolutions that read a graph input.
    public static func apply(graph: Graph, targets: [QuantizationPlan.WeightTarget], encodings: [String: Encoding],
                             parameters: SequentialMSEParameters = SequentialMSEParameters(), threads: Int = ProcessInfoCores.active,
                             feeds: [[String: Tensor]]) throws -> Result {
        try apply(graph: graph, targets: targets, encodings: encodings, parameters: parameters, threads: threads,
                  sampleCount: AdaRoundModel.sampleCount(of: feeds, graph: graph), observesGraphInputs: true,
                  runner: AdaRoundModel.feedRunner(feeds))
    }

    static func apply(graph: Graph, targets: [QuantizationPlan.WeightTarget], encodings: [String: Encoding],
                      parameters: SequentialMSEParameters, threads: Int, sampleCount: Int?, observesGraphInputs: Bool,
                      runner: SequentialLayerWalk.CaptureRunner) throws -> Result {
        var chosen = encodings
        var reports: [SequentialMSELayerReport] = []
        var notes: [String] = []
        let walkNotes = try SequentialLayerWalk.run(
            graph: graph, targets: targets, encodings: encodings, parameters: parameters.walkParameters, threads: threads,
            sampleCount: sampleCount, observesGraphInputs: observesGraphInputs, technique: "sequential MSE", runner: runner) { problem in
            guard let encoding = encodings[problem.target.tensor] else { return nil }
            guard let result = try SequentialMSELayer.search(weight: problem.weight, encoding: encoding, data: problem.data,
                                                             parameters: parameters, tensorName: problem.target.tensor,
                                                             threads: threads) else {
                notes.append("sequential MSE skipped \(problem.node.name): it searches per-tensor and per-channel ranges, "
                             + "not \(encoding.scheme.granularity)")
                return nil
            }
            chosen[problem.target.tensor] = result.encoding
            reports.append(SequentialMSELayerReport(node: problem.node.name, tensor: problem.target.tensor, rows: problem.data.rows,
                                                    groups: result.encoding.groupCount, changedGroups: result.changedGroups,
                                                    estimatorLoss: result.estimatorLoss, loss: result.loss))
            return result.quantizedWeight
        }
        return Result(encodings: chosen, layers: reports, notes: walkNotes + notes)
    }
}

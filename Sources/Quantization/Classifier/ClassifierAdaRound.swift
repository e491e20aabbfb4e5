import Foundation
import ModelGraph
import QuantCore
import Runtime

/// AdaRound in the classifier flow: after batch-norm folding and cross-layer equalization,
/// before the activation calibration (as `Calibrator` does it for text models). The weight
/// encodings are computed on the folded / equalized graph, the rounding of every conv and
/// linear layer is learned on the calibration images, and the adjusted weights (on those
/// encodings' grids) replace the graph's weights, so everything after (activation
/// calibration, bias correction, export) sees them.
enum ClassifierAdaRound {
    /// What AdaRound left for the rest of the flow.
    struct Outcome {
        /// The graph with the adjusted weights.
        var graph: Graph
        /// The encodings the adjusted weights lie on, by checkpoint tensor name.
        var weightEncodings: [String: Encoding]
        var adjustedWeights: [String: Tensor]
        var layers: [AdaRoundLayerReport]
        var notes: [String]
    }

    /// Runs AdaRound on `graph` for `recipe`'s weight encodings (`pinned` ones instead, where
    /// given) on `feeds`. The encodings it rounded to must be kept by every later calibration
    /// (an estimator, mse in particular, could choose another grid for the adjusted weights, on
    /// which they would be rounded again).
    static func run(graph: Graph, feeds: [[String: Tensor]], recipe: QuantizationRecipe, iterations: Int?, threads: Int,
                    pinned: [String: Encoding] = [:], progress: AdaRoundModel.Progress?) throws -> Outcome {
        let plan = try QuantizationPlan(graph: graph, recipe: recipe)
        let encodings = try Calibrator.encodeWeights(plan: plan, graph: graph, pinned: pinned)
        let result = try AdaRoundModel.apply(graph: graph, targets: plan.weights, encodings: encodings, iterations: iterations,
                                             parameters: recipe.adaRoundParameters, threads: threads,
                                             feeds: feeds, progress: progress)
        var adjustedGraph = graph
        for index in adjustedGraph.nodes.indices {
            guard let source = adjustedGraph.nodes[index].parameterSources["weight"], let weight = result.weights[source] else { continue }
            adjustedGraph.nodes[index].parameters["weight"] = weight
        }
        var notes = result.notes
        let kept = result.layers.filter(\.keptNearest).count
        let convolutions = result.layers.filter { $0.rowsPerSample != nil }
        notes.append("AdaRound adjusted \(result.layers.count - kept) layers (\(convolutions.count) convolutions)"
                     + (kept > 0 ? "; \(kept) kept nearest rounding (it reconstructed better)" : ""))
        if let sampled = convolutions.first(where: { ($0.positionsPerSample ?? 0) > ($0.rowsPerSample ?? 0) }) {
            notes.append("AdaRound on convolutions learned from a seeded sample of at most \(sampled.rowsPerSample ?? 0) output positions "
                         + "per image (rows_per_sample in each layer's report)")
        }
        return Outcome(graph: adjustedGraph, weightEncodings: encodings, adjustedWeights: result.weights, layers: result.layers,
                       notes: notes)
    }
}

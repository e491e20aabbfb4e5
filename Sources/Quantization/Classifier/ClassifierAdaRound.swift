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

        /// Keeps the encodings AdaRound rounded to for the adjusted weights: a later calibration
        /// recomputes encodings from the adjusted weights, and an estimator (mse in particular)
        /// can choose another grid for them, on which they would be rounded again.
        func pinning(_ outcome: GraphCalibrator.Outcome) -> GraphCalibrator.Outcome {
            var pinned = outcome
            var changed: [String] = []
            for tensor in adjustedWeights.keys.sorted() {
                guard let encoding = weightEncodings[tensor] else { continue }
                if pinned.weightEncodings[tensor] != encoding { changed.append(tensor) }
                pinned.weightEncodings[tensor] = encoding
            }
            if !changed.isEmpty {
                pinned.notes.append("AdaRound: kept the encodings it rounded to for \(changed.count) weights whose recomputed encodings differed "
                                    + "(activation statistics were gathered with the recomputed ones)")
            }
            return pinned
        }
    }

    /// Runs AdaRound on `graph` for `recipe`'s weight encodings on `feeds`.
    static func run(graph: Graph, feeds: [[String: Tensor]], recipe: QuantizationRecipe, iterations: Int?, threads: Int,
                    progress: AdaRoundModel.Progress?) throws -> Outcome {
        let plan = try QuantizationPlan(graph: graph, recipe: recipe)
        let encodings = try Calibrator.encodeWeights(plan: plan, graph: graph)
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

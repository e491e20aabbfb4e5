import ModelGraph
import QuantCore
import Runtime

/// Calibrates any graph from a list of input feeds (one `[input name: tensor]` per run):
/// the model-independent core behind the text and image calibration commands.
///
/// Weight encodings come from the weights; activation statistics are then gathered with the
/// weights already fake-quantized, so the ranges are those the quantized model will see.
/// With `recipe.sixteenBitThreshold` set, each 8-bit activation quantizer is tried alone on
/// the first `recipe.sensitivityProbes` feeds and moved to 16 bits when it costs more than
/// the threshold in mean (1 − cosine) of the graph's first output.
public enum GraphCalibrator {
    /// What calibration found.
    public struct Outcome: Sendable {
        public var plan: QuantizationPlan
        /// Weight encodings by checkpoint tensor name.
        public var weightEncodings: [String: Encoding]
        /// Activation encodings by node name.
        public var activationEncodings: [String: Encoding]
        /// Supergroups, promotions and other facts for the report.
        public var notes: [String]
        /// Activation quantizers moved to 16 bits by the sensitivity analysis, most sensitive first.
        public var promoted: [String] = []
    }

    /// Calibrates `graph` under `recipe` on `feeds`.
    /// - Parameters:
    ///   - source: names the calibration set in errors (a folder or file path).
    ///   - pinned: weight encodings chosen by a technique (sequential MSE, AdaRound's grids),
    ///     used instead of the recipe's estimator for those tensors.
    ///   - promoting: the quantizers to move to 16 bits, when an earlier calibration of the
    ///     same graph has already analysed them (skips the analysis); nil analyses.
    public static func calibrate(graph: Graph, feeds: [[String: Tensor]], recipe: QuantizationRecipe, source: String,
                                 threads: Int = ProcessInfoCores.active, pinned: [String: Encoding] = [:],
                                 promoting: [String]? = nil, progress: Calibrator.Progress? = nil) throws -> Outcome {
        guard !feeds.isEmpty else { throw QuantizationPipelineError.emptyCalibrationSet(path: source) }
        let plan = try QuantizationPlan(graph: graph, recipe: recipe)
        let weightEncodings = try Calibrator.encodeWeights(plan: plan, graph: graph, pinned: pinned)
        let executor = GraphExecutor(graph: try QuantizationSimulator.applyingWeightEncodings(weightEncodings, to: graph),
                                     threads: threads)
        var notes = plan.notes
        var activationEncodings: [String: Encoding] = [:]
        guard !plan.activations.isEmpty else {
            progress?(feeds.count, feeds.count)
            return Outcome(plan: plan, weightEncodings: weightEncodings, activationEncodings: [:], notes: notes)
        }
        let statistics = try StatisticsTap(targets: plan.activations)
        for (index, feed) in feeds.enumerated() {
            _ = try executor.run(inputs: feed, tap: statistics)
            if let failure = statistics.failure { throw failure }
            progress?(index + 1, feeds.count)
        }
        for target in plan.activations {
            guard let observer = statistics.observers[target.node] else { continue }
            activationEncodings[target.node] = try observer.encoding(scheme: target.scheme, estimator: target.estimator)
        }
        if let threshold = recipe.sixteenBitThreshold, activationEncodings.values.contains(where: { $0.scheme.bits == 8 }) {
            let promoted: [String]
            if let promoting {
                promoted = promoting
            } else {
                let probes = Array(feeds.prefix(recipe.sensitivityProbes))
                let losses = try outputLosses(executor: executor, encodings: activationEncodings, probes: probes)
                promoted = losses.filter { $0.value > threshold }
                    .sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map(\.key)
            }
            for node in promoted {
                guard let target = plan.activations.first(where: { $0.node == node }),
                      let observer = statistics.observers[node] else { continue }
                let scheme = try QuantScheme(bits: 16, symmetry: target.scheme.symmetry, granularity: target.scheme.granularity)
                activationEncodings[node] = try observer.encoding(scheme: scheme, estimator: target.estimator)
            }
            if !promoted.isEmpty {
                notes.append("\(promoted.count) activation quantizers moved to 16 bits (alone each cost more than \(threshold) in cosine): "
                             + promoted.joined(separator: ", "))
            }
            return Outcome(plan: plan, weightEncodings: weightEncodings, activationEncodings: activationEncodings, notes: notes,
                           promoted: promoted)
        }
        return Outcome(plan: plan, weightEncodings: weightEncodings, activationEncodings: activationEncodings, notes: notes)
    }

    /// Mean (1 − cosine) of the first graph output, per 8-bit activation quantizer applied
    /// alone, against the weight-quantized model without activation quantizers.
    static func outputLosses(executor: GraphExecutor, encodings: [String: Encoding],
                             probes: [[String: Tensor]]) throws -> [String: Double] {
        let reference = try probes.map { try executor.run(inputs: $0)[0].scalars }
        var losses: [String: Double] = [:]
        for (node, encoding) in encodings where encoding.scheme.bits == 8 {
            let tap = ActivationQuantizationTap(encodings: [node: encoding])
            var loss = 0.0
            for (probe, expected) in zip(probes, reference) {
                let actual = try executor.run(inputs: probe, tap: tap)[0].scalars
                loss += 1 - (try QuantizationMetrics.cosineSimilarity(expected, actual))
            }
            losses[node] = loss / Double(max(1, probes.count))
        }
        return losses
    }
}

import ModelGraph
import QuantCore
import Runtime

/// Measures how much each 8-bit activation quantizer alone moves the model's output, and
/// moves the few that dominate the error to 16 bits (outlier-heavy tensors such as BERT's
/// residual stream). The analysis runs each quantizer on its own over a handful of probe
/// inputs, so its cost is (quantizers × probes) forward passes.
public enum ActivationSensitivity {
    /// The outcome: the loss each quantizer causes alone, and the quantizers promoted.
    public struct Analysis: Sendable {
        /// Mean 1 − cosine of the output embedding against the weight-only model, per node.
        public var losses: [String: Double]
        /// Nodes moved to 16 bits, most sensitive first.
        public var promoted: [String]
    }

    /// Analyses `encodings` (8-bit ones only) on `probes` and promotes every quantizer whose
    /// loss exceeds `threshold`.
    public static func analyse(embedder: SentenceEmbedder, encodings: [String: Encoding], probes: [String],
                               threshold: Double) throws -> Analysis {
        let reference = try embedder.embed(probes, batchSize: 1).embeddings
        var losses: [String: Double] = [:]
        for (node, encoding) in encodings where encoding.scheme.bits == 8 {
            let tap = ActivationQuantizationTap(encodings: [node: encoding])
            let outputs = try embedder.embed(probes, batchSize: 1, tap: tap).embeddings
            var loss = 0.0
            for (expected, actual) in zip(reference, outputs) {
                loss += 1 - (try QuantizationMetrics.cosineSimilarity(expected, actual))
            }
            losses[node] = loss / Double(max(1, probes.count))
        }
        let promoted = losses.filter { $0.value > threshold }
            .sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map(\.key)
        return Analysis(losses: losses, promoted: promoted)
    }
}

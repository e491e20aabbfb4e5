import Foundation
import ModelGraph
import Quantization
import QuantCore
import Runtime
import Testing

/// Bias correction on a real transformer: MiniLM's linear layers, W4 per-channel weights,
/// float activations, calibration sentences run one at a time through the closure runner.
@Suite struct BiasCorrectionMiniLMTests {
    /// Per-channel sums of one node's output.
    final class ChannelSums: ActivationTap {
        let node: String
        var sums: [Double] = []
        var rows = 0
        init(node: String) { self.node = node }
        func nodeDidRun(_ node: Node, output: inout Tensor) {
            guard node.name == self.node, let width = output.shape.last else { return }
            if sums.isEmpty { sums = [Double](repeating: 0, count: width) }
            for (index, value) in output.scalars.enumerated() { sums[index % width] += Double(value) }
            rows += output.count / width
        }
        var means: [Double] { sums.map { $0 / Double(rows) } }
    }

    @Test func correctsMiniLMLinearLayers() throws {
        let embedder = try SentenceEmbedder(modelFolder: PipelinePaths.miniLMFolder)
        let graph = embedder.model.graph
        let scheme = try QuantScheme(bits: 4, symmetry: .symmetric, granularity: .perChannel(axis: 0))
        var weights: [String: Encoding] = [:]
        for node in graph.nodes where node.op == .linear {
            let source = node.parameterSources["weight"]!
            weights[source] = try RangeEstimator.minMax.encoding(of: node.parameters["weight"]!, scheme: scheme, tensorName: source)
        }
        let calibration = try PipelinePaths.prompts(16).map { prompt in
            SentenceEmbedder.graphInputs(for: [embedder.tokenizer.encode(prompt, maxLength: embedder.maximumLength)],
                                         paddingID: embedder.tokenizer.paddingID)
        }
        let start = Date()
        let (corrected, report) = try BiasCorrection.correct(graph, weightEncodings: weights, runner: BiasCorrection.runner(inputs: calibration))
        let seconds = Date().timeIntervalSince(start)
        let linears = graph.nodes.filter { $0.op == .linear }.map(\.name)
        #expect(report.layers.map(\.name) == linears)

        // What the correction targets: the mean shift of the last layer's output on the
        // calibration sentences.
        let last = linears.last!
        func meanShift(_ candidate: Graph) throws -> Double {
            let float = ChannelSums(node: last), quantized = ChannelSums(node: last)
            let floatExecutor = GraphExecutor(graph: graph)
            let quantizedExecutor = GraphExecutor(graph: try QuantizationSimulator.applyingWeightEncodings(weights, to: candidate))
            for input in calibration {
                _ = try floatExecutor.run(inputs: input, tap: float)
                _ = try quantizedExecutor.run(inputs: input, tap: quantized)
            }
            let differences = zip(float.means, quantized.means).map { abs($0 - $1) }
            return differences.reduce(0, +) / Double(differences.count)
        }
        let shiftBefore = try meanShift(graph), shiftAfter = try meanShift(corrected)
        #expect(shiftAfter * 2 < shiftBefore, "\(last): mean |shift| \(shiftBefore) → \(shiftAfter)")

        // Held-out fidelity, for the record: bias correction is a small effect on MiniLM.
        let heldout = try PipelinePaths.heldout(64)
        let reference = try embedder.embed(heldout).embeddings
        func meanCosine(_ candidate: Graph) throws -> Double {
            let quantized = try QuantizationSimulator.applyingWeightEncodings(weights, to: candidate)
            let embeddings = try SentenceEmbedder(model: embedder.model, tokenizer: embedder.tokenizer, maximumLength: embedder.maximumLength,
                                                  executor: GraphExecutor(graph: quantized)).embed(heldout).embeddings
            return try zip(reference, embeddings).map { try QuantizationMetrics.cosineSimilarity($0, $1) }.reduce(0, +) / Double(heldout.count)
        }
        let before = try meanCosine(graph), after = try meanCosine(corrected)
        print("MiniLM W4 per-channel, bias correction on 16 sentences in \(seconds) s: last-layer mean |shift| \(shiftBefore) → \(shiftAfter); held-out mean cosine \(before) → \(after)")
        #expect(after > before - 0.01, "mean cosine \(before) → \(after)")
    }
}

import Foundation
import ModelGraph
import QuantCore
import Runtime

/// What empirical bias correction changed.
public struct BiasCorrectionReport: Sendable, Equatable, Codable {
    /// The correction of one layer's bias.
    public struct Layer: Sendable, Equatable, Codable {
        public var name: String
        public var channels: Int
        /// Mean over channels of |E[y_fp32] − E[y_quant]| before this layer's correction.
        public var meanAbsoluteShift: Double
        /// The largest per-channel |E[y_fp32] − E[y_quant]|.
        public var largestShift: Double
        /// Values averaged per channel (calibration elements that reached the layer).
        public var samplesPerChannel: Int
        public init(name: String, channels: Int, meanAbsoluteShift: Double, largestShift: Double, samplesPerChannel: Int) {
            self.name = name
            self.channels = channels
            self.meanAbsoluteShift = meanAbsoluteShift
            self.largestShift = largestShift
            self.samplesPerChannel = samplesPerChannel
        }
    }

    /// A layer that was not corrected, and why.
    public struct Skipped: Sendable, Equatable, Codable {
        public var layer: String
        public var reason: String
        public init(layer: String, reason: String) {
            self.layer = layer
            self.reason = reason
        }
    }

    public var layers: [Layer]
    public var skipped: [Skipped]

    public init(layers: [Layer], skipped: [Skipped]) {
        self.layers = layers
        self.skipped = skipped
    }

    /// Human-readable summary, one fact per line.
    public var lines: [String] {
        guard !layers.isEmpty else {
            return ["bias correction: no conv/linear layer with a weight encoding; nothing changed"]
                + skipped.map { "  skipped \($0.layer): \($0.reason)" }
        }
        var lines = ["bias correction (empirical, layer by layer): corrected \(layers.count) layer(s)"]
        for layer in layers {
            lines.append("  \(layer.name): mean |shift| " + String(format: "%.3g", layer.meanAbsoluteShift)
                         + ", largest " + String(format: "%.3g", layer.largestShift)
                         + " over \(layer.channels) channel(s), \(layer.samplesPerChannel) value(s) each")
        }
        for skip in skipped { lines.append("  skipped \(skip.layer): \(skip.reason)") }
        return lines
    }
}

/// Empirical bias correction (Nagel et al. 2019, section 4.2; AIMET's `correct_bias` with
/// data): quantization shifts the mean of a layer's output, `E[W̃x̃] ≠ E[Wx]`, and later
/// layers inherit the shift. For each conv / linear layer with a weight encoding, in graph
/// order, the per-channel mean output of the float model and of the quantized model (weights
/// fake-quantized, activations through `activationEncodings`, the corrections of earlier
/// layers already applied) are measured on the calibration data, and the difference is added
/// to the layer's bias. The quantized output is measured before the layer's own activation
/// quantizer (the bias acts there).
///
/// The returned graph is the *float* graph with corrected biases: quantizing its weights with
/// the same `weightEncodings` gives the corrected quantized model (weight encodings do not
/// depend on biases). Activation encodings calibrated before the correction stay usable but
/// may be recalibrated.
///
/// The data come through a `Runner`, so any graph works. A CNN: `runner(inputs:)` over image
/// tensors. MiniLM: one tokenised sentence per input,
/// ```swift
/// let inputs = prompts.map { SentenceEmbedder.graphInputs(
///     for: [embedder.tokenizer.encode($0, maxLength: embedder.maximumLength)], paddingID: embedder.tokenizer.paddingID) }
/// let (corrected, report) = try BiasCorrection.correct(graph, weightEncodings: weights, runner: BiasCorrection.runner(inputs: inputs))
/// ```
/// (one sentence per run keeps padding out of the means). Cost: one float pass, then one
/// pass per corrected layer over the graph up to that layer.
public enum BiasCorrection {
    static let technique = "bias correction"

    /// Runs every calibration input through `graph` with `tap` observing (and possibly
    /// fake-quantizing) each node's output. The graph may be a prefix of the model (its
    /// outputs are not the model's): ignore the outputs. Run the inputs in the same order
    /// every time; results are then independent of thread counts.
    public typealias Runner = (_ graph: Graph, _ tap: ActivationTap) throws -> Void

    /// A runner over fixed input tensors with a `GraphExecutor` of `threads` threads.
    public static func runner(inputs: [[String: Tensor]], threads: Int = ProcessInfoCores.active) -> Runner {
        { graph, tap in
            let executor = GraphExecutor(graph: graph, threads: threads)
            for input in inputs { _ = try executor.run(inputs: input, tap: tap) }
        }
    }

    /// Corrects the biases of the layers of `graph` whose weights (by `parameterSources["weight"]`)
    /// have an encoding in `weightEncodings`; `layers`, when given, narrows them to those names
    /// (every name must be a node of the graph).
    public static func correct(_ graph: Graph, weightEncodings: [String: Encoding],
                               activationEncodings: [String: Encoding] = [:], layers: Set<String>? = nil,
                               runner: Runner) throws -> (Graph, BiasCorrectionReport) {
        if let layers, let unknown = layers.subtracting(graph.nodes.map(\.name)).sorted().first {
            throw QuantizationPipelineError.invalidTechniqueInput(technique: technique, node: unknown, reason: "is not in the graph")
        }
        var skipped: [BiasCorrectionReport.Skipped] = []
        var targets: [Int] = []
        for (index, node) in graph.nodes.enumerated() where node.op.isConvolutionOrLinear {
            if let layers, !layers.contains(node.name) { continue }
            guard let source = node.parameterSources["weight"], weightEncodings[source] != nil else {
                skipped.append(.init(layer: node.name, reason: "its weight has no encoding (kept float)"))
                continue
            }
            guard let weight = node.parameters["weight"], weight.rank >= 2 else {
                throw QuantizationPipelineError.invalidTechniqueInput(technique: technique, node: node.name, reason: "has no weight")
            }
            if let bias = node.parameters["bias"], bias.shape != [weight.shape[0]] {
                throw QuantizationPipelineError.invalidTechniqueInput(
                    technique: technique, node: node.name, reason: "bias \(bias.shape) is not [\(weight.shape[0])]")
            }
            targets.append(index)
        }
        guard let lastTarget = targets.last else { return (graph, BiasCorrectionReport(layers: [], skipped: skipped)) }

        // Float means of every target in one pass over the prefix that reaches the last one.
        let floatTap = ChannelMeanTap(nodes: Set(targets.map { graph.nodes[$0].name }), next: nil)
        try runner(prefix(of: graph, through: lastTarget), floatTap)
        var corrected = graph
        var quantized = try QuantizationSimulator.applyingWeightEncodings(weightEncodings, to: graph)
        var reports: [BiasCorrectionReport.Layer] = []
        for index in targets {
            let node = graph.nodes[index]
            guard let floatMean = floatTap.means(of: node.name) else {
                throw QuantizationPipelineError.invalidTechniqueInput(technique: technique, node: node.name,
                                                                      reason: "produced no output on the calibration data")
            }
            let quantizedTap = ChannelMeanTap(nodes: [node.name], next: ActivationQuantizationTap(encodings: activationEncodings))
            try runner(prefix(of: quantized, through: index), quantizedTap)
            guard let quantizedMean = quantizedTap.means(of: node.name), quantizedMean.means.count == floatMean.means.count else {
                throw QuantizationPipelineError.invalidTechniqueInput(technique: technique, node: node.name,
                                                                      reason: "produced no comparable output in the quantized model")
            }
            let shift = zip(floatMean.means, quantizedMean.means).map { $0 - $1 }
            addBias(shift, to: &corrected.nodes[index])
            addBias(shift, to: &quantized.nodes[index])
            let magnitudes = shift.map(abs)
            reports.append(.init(name: node.name, channels: shift.count,
                                 meanAbsoluteShift: magnitudes.reduce(0, +) / Double(max(magnitudes.count, 1)),
                                 largestShift: magnitudes.max() ?? 0, samplesPerChannel: floatMean.count))
        }
        try corrected.validate()
        return (corrected, BiasCorrectionReport(layers: reports, skipped: skipped))
    }

    /// The nodes of `graph` up to and including `index`, with that node's output as the only
    /// graph output.
    static func prefix(of graph: Graph, through index: Int) -> Graph {
        Graph(inputs: graph.inputs, nodes: Array(graph.nodes[...index]), outputs: [graph.nodes[index].output])
    }

    private static func addBias(_ shift: [Double], to node: inout Node) {
        let current = node.parameters["bias"]?.scalars ?? [Float](repeating: 0, count: shift.count)
        node.parameters["bias"] = Tensor(shape: [shift.count], scalars: zip(current, shift).map { Float(Double($0) + $1) })
        if node.parameterSources["bias"] == nil { node.parameterSources["bias"] = "\(node.name).bias" }
    }
}

/// Accumulates per-channel (last-axis) means of chosen nodes' outputs in `Double`, in the
/// order the runner delivers them, then hands the output to `next`.
final class ChannelMeanTap: ActivationTap, @unchecked Sendable {
    private let nodes: Set<String>
    private let next: ActivationTap?
    private var sums: [String: [Double]] = [:]
    private var counts: [String: Int] = [:]

    init(nodes: Set<String>, next: ActivationTap?) {
        self.nodes = nodes
        self.next = next
    }

    func nodeDidRun(_ node: Node, output: inout Tensor) {
        if nodes.contains(node.name), let channels = output.shape.last, channels > 0 {
            var sum = sums[node.name] ?? [Double](repeating: 0, count: channels)
            if sum.count == channels {
                output.scalars.withUnsafeBufferPointer { values in
                    var offset = 0
                    while offset < values.count {
                        for channel in 0..<channels { sum[channel] += Double(values[offset + channel]) }
                        offset += channels
                    }
                }
                sums[node.name] = sum
                counts[node.name, default: 0] += output.count / channels
            }
        }
        next?.nodeDidRun(node, output: &output)
    }

    /// The per-channel means of `name` and how many values each averages.
    func means(of name: String) -> (means: [Double], count: Int)? {
        guard let sum = sums[name], let count = counts[name], count > 0 else { return nil }
        return (sum.map { $0 / Double(count) }, count)
    }
}

import Foundation
import ModelGraph
import Quantization
import QuantCore
import Runtime
import Testing

@Suite struct BiasCorrectionTests {
    /// The quantized view of `graph`: fake-quantized weights, and the activation tap.
    static func quantizedOutputs(_ graph: Graph, weights: [String: Encoding], activations: [String: Encoding],
                                 inputs: [[String: Tensor]]) throws -> [Float] {
        let quantized = try QuantizationSimulator.applyingWeightEncodings(weights, to: graph)
        return try SyntheticModels.outputs(of: quantized, on: inputs, tap: ActivationQuantizationTap(encodings: activations))
    }

    /// Root mean square over channels of the per-channel mean error E[y_fp32 − y_quant].
    static func meanChannelError(reference: [Float], quantized: [Float], channels: Int) -> Double {
        var sums = [Double](repeating: 0, count: channels)
        for index in reference.indices { sums[index % channels] += Double(reference[index] - quantized[index]) }
        let rows = Double(reference.count / channels)
        return (sums.map { ($0 / rows) * ($0 / rows) }.reduce(0, +) / Double(channels)).squareRoot()
    }

    /// Activation quantizers where the runtime puts them: after activations, adds, pools and
    /// layers not followed by an activation.
    static func activationNodes(_ graph: Graph) -> [String] {
        graph.nodes.compactMap { node in
            switch node.op {
            case .activation, .add, .globalAveragePool: return node.name
            case .conv2d, .linear:
                let followedByActivation = graph.nodes.contains { reader in
                    reader.inputs.contains(node.output) && { if case .activation = reader.op { return true } else { return false } }()
                }
                return followedByActivation ? nil : node.name
            default: return nil
            }
        }
    }

    static func setting() throws -> (model: SyntheticModels.Model, folded: Graph, weights: [String: Encoding], activations: [String: Encoding]) {
        let model = try SyntheticModels.mobileNetLike()
        let folded = try BatchNormFolding.fold(model.graph).0
        let scheme = try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perTensor)
        let weights = try SyntheticModels.weightEncodings(folded, scheme: scheme)
        let activations = try SyntheticModels.activationEncodings(folded, nodes: activationNodes(folded), inputs: model.calibration)
        return (model, folded, weights, activations)
    }

    /// W8 per-tensor weights and A8 activations on the folded MobileNetV2-like model: the
    /// mean error per output channel shrinks on the calibration data and on held-out data.
    @Test func correctionShrinksMeanOutputErrorPerChannel() throws {
        let (model, folded, weights, activations) = try Self.setting()
        let (corrected, report) = try BiasCorrection.correct(folded, weightEncodings: weights, activationEncodings: activations,
                                                             runner: BiasCorrection.runner(inputs: model.calibration))
        #expect(report.layers.count == 11)
        #expect(report.layers.map(\.name) == folded.nodes.filter { $0.op.hasQuantizableWeight }.map(\.name))
        #expect(report.lines.first == "bias correction (empirical, layer by layer): corrected 11 layer(s)")
        for (label, inputs) in [("calibration", model.calibration), ("held-out", model.evaluation)] {
            let reference = try SyntheticModels.outputs(of: folded, on: inputs)
            let before = Self.meanChannelError(reference: reference, quantized: try Self.quantizedOutputs(
                folded, weights: weights, activations: activations, inputs: inputs), channels: 10)
            let after = Self.meanChannelError(reference: reference, quantized: try Self.quantizedOutputs(
                corrected, weights: weights, activations: activations, inputs: inputs), channels: 10)
            print("bias correction, \(label): RMS per-channel mean error \(before) → \(after)")
            #expect(after < before * (label == "calibration" ? 0.5 : 1), "\(label): \(before) → \(after)")
        }
        // Weights are untouched: the same encodings still describe them.
        for (original, updated) in zip(folded.nodes, corrected.nodes) {
            #expect(original.parameters["weight"] == updated.parameters["weight"])
        }
    }

    /// The three techniques in AIMET's order on the MobileNetV2-like model, W8A8 per-tensor:
    /// folding alone loses most of the signal; equalization, absorption (into unpadded layers)
    /// and bias correction recover it. SQNR of the logits against the fp32 ReLU model.
    @Test func techniquesComposeUnderPerTensorW8A8() throws {
        let model = try SyntheticModels.mobileNetLike()
        let (folded, folds) = try BatchNormFolding.fold(model.graph)
        let relu = CrossLayerEqualization.replacingReLU6(in: folded).0
        let reference = try SyntheticModels.outputs(of: relu, on: model.evaluation)
        let scheme = try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perTensor)
        func sqnr(_ graph: Graph, correctingBias: Bool) throws -> Double {
            let weights = try SyntheticModels.weightEncodings(graph, scheme: scheme)
            let activations = try SyntheticModels.activationEncodings(graph, nodes: Self.activationNodes(graph), inputs: model.calibration)
            var candidate = graph
            if correctingBias {
                candidate = try BiasCorrection.correct(graph, weightEncodings: weights, activationEncodings: activations,
                                                       runner: BiasCorrection.runner(inputs: model.calibration)).0
            }
            let output = try Self.quantizedOutputs(candidate, weights: weights, activations: activations, inputs: model.evaluation)
            return try QuantizationMetrics.sqnr(reference: reference, approximation: output)
        }
        let options = CrossLayerEqualization.Options(absorbsIntoPaddedLayers: false)
        let equalized = try CrossLayerEqualization.equalize(folded, foldedBatchNorms: folds.folded, options: options).0
        let foldOnly = try sqnr(relu, correctingBias: false)
        let withEqualization = try sqnr(equalized, correctingBias: false)
        let all = try sqnr(equalized, correctingBias: true)
        print("W8A8 per-tensor logits SQNR: fold \(foldOnly) dB, + CLE/HBA \(withEqualization) dB, + bias correction \(all) dB")
        #expect(withEqualization > foldOnly + 6)
        #expect(all > withEqualization + 3)
    }

    /// The corrected biases do not depend on the thread count of the runner.
    @Test func correctionIsDeterministicAcrossThreadCounts() throws {
        let (model, folded, weights, activations) = try Self.setting()
        let one = try BiasCorrection.correct(folded, weightEncodings: weights, activationEncodings: activations,
                                             runner: BiasCorrection.runner(inputs: model.calibration, threads: 1))
        let two = try BiasCorrection.correct(folded, weightEncodings: weights, activationEncodings: activations,
                                             runner: BiasCorrection.runner(inputs: model.calibration, threads: 2))
        #expect(one.0 == two.0)
        #expect(one.1 == two.1)
    }

    /// A transformer-like stack of linear layers on `[batch, sequence, width]` inputs (the
    /// MiniLM shape), W4 per-channel weights, float activations.
    @Test func correctsLinearLayersOnSequenceInputs() throws {
        var factory = SyntheticModels.LayerFactory(seed: 51)
        let hidden = factory.builder.input("hidden")
        var value = factory.activation("gelu", .gelu, factory.linear("intermediate", hidden, inputs: 16, outputs: 48))
        value = factory.linear("output", value, inputs: 48, outputs: 16)
        value = factory.builder.add("residual", .add, inputs: [hidden, value])
        value = factory.linear("head", value, inputs: 16, outputs: 8)
        let graph = try factory.builder.finish(outputs: [value])
        var generator = SeededGenerator(seed: 52)
        let inputs = (0..<6).map { _ in
            ["hidden": Tensor(shape: [2, 5, 16], scalars: SyntheticModels.normals(160, using: &generator).map { $0 + 0.5 })]
        }
        let scheme = try QuantScheme(bits: 4, symmetry: .symmetric, granularity: .perChannel(axis: 0))
        let weights = try SyntheticModels.weightEncodings(graph, scheme: scheme)
        let (corrected, report) = try BiasCorrection.correct(graph, weightEncodings: weights,
                                                             runner: BiasCorrection.runner(inputs: inputs))
        #expect(report.layers.map(\.samplesPerChannel) == [60, 60, 60])
        let reference = try SyntheticModels.outputs(of: graph, on: inputs)
        let before = Self.meanChannelError(reference: reference, quantized: try Self.quantizedOutputs(
            graph, weights: weights, activations: [:], inputs: inputs), channels: 8)
        let after = Self.meanChannelError(reference: reference, quantized: try Self.quantizedOutputs(
            corrected, weights: weights, activations: [:], inputs: inputs), channels: 8)
        #expect(after < before * 0.1, "\(before) → \(after)")
    }

    /// Nothing to correct: the graph comes back unchanged and the report says why.
    @Test func layersWithoutEncodingsAreLeftAlone() throws {
        let (model, folded, _, _) = try Self.setting()
        let (result, report) = try BiasCorrection.correct(folded, weightEncodings: [:], runner: BiasCorrection.runner(inputs: model.calibration))
        #expect(result == folded)
        #expect(report.layers.isEmpty)
        #expect(report.skipped.count == 11)
        #expect(report.lines.first == "bias correction: no conv/linear layer with a weight encoding; nothing changed")
    }

    /// A runner that never runs the graph is an error naming the layer.
    @Test func runnerWithoutDataIsAnError() throws {
        let (_, folded, weights, _) = try Self.setting()
        #expect(throws: QuantizationPipelineError.self) {
            try BiasCorrection.correct(folded, weightEncodings: weights, runner: { _, _ in })
        }
    }

    @Test func unknownLayerNameIsAnError() throws {
        let (model, folded, weights, _) = try Self.setting()
        #expect(throws: QuantizationPipelineError.invalidTechniqueInput(technique: "bias correction", node: "nonexistent",
                                                                       reason: "is not in the graph")) {
            try BiasCorrection.correct(folded, weightEncodings: weights, layers: ["classifier", "nonexistent"],
                                       runner: BiasCorrection.runner(inputs: model.calibration))
        }
    }

    @Test func reportRoundTripsThroughJSON() throws {
        let (model, folded, weights, activations) = try Self.setting()
        let (_, report) = try BiasCorrection.correct(folded, weightEncodings: weights, activationEncodings: activations,
                                                     layers: ["classifier", "head.conv"],
                                                     runner: BiasCorrection.runner(inputs: model.calibration))
        #expect(report.layers.map(\.name) == ["head.conv", "classifier"])
        let data = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(BiasCorrectionReport.self, from: data) == report)
    }
}

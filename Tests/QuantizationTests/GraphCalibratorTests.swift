import Foundation
import ModelGraph
import ModelIO
import QuantCore
@testable import Quantization
import Runtime
import Testing

/// A small CNN: conv → BN → ReLU6 → depthwise → ReLU → global pool → flatten → linear.
func smallConvolutionalGraph(seed: UInt64) throws -> Graph {
    var generator = SeededGenerator(seed: seed)
    func floats(_ count: Int, _ scale: Float = 0.5) -> [Float] { (0..<count).map { _ in Float.random(in: -scale...scale, using: &generator) } }
    var builder = GraphBuilder()
    let image = builder.input("image")
    var value = builder.add("conv", .conv2d(Convolution2DAttributes(window: Window2D(height: 3, width: 3, padding: .same))),
                            inputs: [image], parameters: ["weight": Tensor(shape: [6, 3, 3, 2], scalars: floats(108))],
                            sources: ["weight": "conv.weight"])
    value = builder.add("bn", .batchNorm(epsilon: 1e-5), inputs: [value], parameters: [
        "weight": Tensor(shape: [6], scalars: floats(6).map { $0 + 1 }), "bias": Tensor(shape: [6], scalars: floats(6)),
        "mean": Tensor(shape: [6], scalars: floats(6)), "variance": Tensor(shape: [6], scalars: floats(6).map { abs($0) + 0.5 })],
                        sources: ["weight": "bn.weight", "bias": "bn.bias", "mean": "bn.running_mean", "variance": "bn.running_var"])
    value = builder.add("relu6", .activation(.relu6), inputs: [value])
    value = builder.add("dw", .conv2d(Convolution2DAttributes(window: Window2D(height: 3, width: 3, padding: .symmetric(1, 1)), groups: 6)),
                        inputs: [value], parameters: ["weight": Tensor(shape: [6, 3, 3, 1], scalars: floats(54)),
                                                      "bias": Tensor(shape: [6], scalars: floats(6))],
                        sources: ["weight": "dw.weight", "bias": "dw.bias"])
    value = builder.add("relu", .activation(.relu), inputs: [value])
    value = builder.add("pool", .globalAveragePool, inputs: [value])
    value = builder.add("flatten", .flatten, inputs: [value])
    value = builder.add("fc", .linear, inputs: [value], parameters: ["weight": Tensor(shape: [4, 6], scalars: floats(24))],
                        sources: ["weight": "fc.weight"])
    return try builder.finish(outputs: [value])
}

@Suite struct GraphCalibratorTests {
    func feeds(_ count: Int, seed: UInt64) -> [[String: Tensor]] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            ["image": Tensor(shape: [1, 8, 8, 2], scalars: (0..<128).map { _ in Float.random(in: -1...1, using: &generator) })]
        }
    }

    @Test func planPutsQuantizersAfterSupergroupsOfConvolutions() throws {
        let graph = try smallConvolutionalGraph(seed: 1)
        let plan = try QuantizationPlan(graph: graph, recipe: QuantizationRecipe(weights: try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perChannel(axis: 0)), activations: .int8))
        #expect(plan.weights.map(\.tensor) == ["conv.weight", "dw.weight", "fc.weight"])
        // conv + bn + relu6 is one group, dw + relu another; flatten keeps the pool's grid.
        #expect(plan.activations.map(\.node) == ["relu6", "relu", "pool", "fc"])
    }

    @Test func calibrationGivesEncodingsThatTheSimulatedModelFollowsClosely() throws {
        let graph = try smallConvolutionalGraph(seed: 2)
        var recipe = QuantizationRecipe(weights: try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perChannel(axis: 0)), activations: .int8)
        recipe.sixteenBitThreshold = nil
        let calibration = feeds(12, seed: 3)
        let outcome = try GraphCalibrator.calibrate(graph: graph, feeds: calibration, recipe: recipe, source: "synthetic", threads: 2)
        #expect(Set(outcome.activationEncodings.keys) == ["relu6", "relu", "pool", "fc"])
        #expect(outcome.activationEncodings.values.allSatisfy { $0.scheme.bits == 8 })
        // ReLU outputs are non-negative: the 8-bit range must not waste half its grid below 0.
        let reluEncoding = try #require(outcome.activationEncodings["relu6"])
        #expect(reluEncoding.minimum(ofGroup: 0) >= -reluEncoding.scales[0] && reluEncoding.maximum(ofGroup: 0) <= 6.05)
        let simulated = GraphExecutor(graph: try QuantizationSimulator.applyingWeightEncodings(outcome.weightEncodings, to: graph), threads: 2)
        let reference = GraphExecutor(graph: graph, threads: 2)
        let tap = ActivationQuantizationTap(encodings: outcome.activationEncodings)
        for feed in feeds(4, seed: 4) {
            let expected = try reference.run(inputs: feed)[0].scalars
            let actual = try simulated.run(inputs: feed, tap: tap)[0].scalars
            #expect(try QuantizationMetrics.cosineSimilarity(expected, actual) > 0.99)
        }
    }

    @Test func aGivenPromotionListReplacesTheSensitivityAnalysis() throws {
        let graph = try smallConvolutionalGraph(seed: 2)
        var recipe = QuantizationRecipe(weights: try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perChannel(axis: 0)), activations: .int8)
        recipe.sixteenBitThreshold = 0
        let calibration = feeds(6, seed: 3)
        // Threshold 0: every quantizer that costs anything is promoted by the analysis.
        let analysed = try GraphCalibrator.calibrate(graph: graph, feeds: calibration, recipe: recipe, source: "synthetic", threads: 2)
        #expect(!analysed.promoted.isEmpty)
        let reused = try GraphCalibrator.calibrate(graph: graph, feeds: calibration, recipe: recipe, source: "synthetic", threads: 2,
                                                   promoting: analysed.promoted)
        #expect(reused.activationEncodings == analysed.activationEncodings && reused.promoted == analysed.promoted)
        let chosen = try GraphCalibrator.calibrate(graph: graph, feeds: calibration, recipe: recipe, source: "synthetic", threads: 2,
                                                   promoting: ["fc"])
        #expect(chosen.promoted == ["fc"])
        #expect(chosen.activationEncodings.filter { $0.value.scheme.bits == 16 }.map(\.key) == ["fc"])
    }

    @Test func anEmptyCalibrationSetIsAnError() throws {
        #expect(throws: QuantizationPipelineError.emptyCalibrationSet(path: "images/")) {
            _ = try GraphCalibrator.calibrate(graph: try smallConvolutionalGraph(seed: 5), feeds: [], recipe: QuantizationRecipe(weights: try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perTensor)),
                                              source: "images/")
        }
    }

    @Test func graphDescriptionRoundTripsThroughSafetensors() throws {
        let graph = try smallConvolutionalGraph(seed: 6)
        let description = try GraphDescription(graph)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let decoded = try JSONDecoder().decode(GraphDescription.self, from: try encoder.encode(description))
        #expect(decoded == description)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("graph-description-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var tensors: [RawTensor] = []
        for node in graph.nodes {
            for (role, tensor) in node.parameters { tensors.append(RawTensor(name: node.parameterSources[role]!, tensor: tensor)) }
        }
        let path = folder.appendingPathComponent("model.safetensors").path
        try SafetensorsWriter.write(tensors.sorted { $0.info.name < $1.info.name }, metadata: [:], to: path)
        let rebuilt = try decoded.graph(weights: try WeightStores.open(path))
        #expect(rebuilt == graph)
        // A description naming a tensor the file lacks fails with that tensor's name.
        var broken = decoded
        broken.nodes[0].parameters["weight"] = "missing.weight"
        #expect(throws: ModelGraphError.missingWeight(path: path, tensor: "missing.weight")) {
            _ = try broken.graph(weights: try WeightStores.open(path))
        }
    }
}

@Suite struct ConvolutionWeightSchemeTests {
    @Test func blocksRunAlongInputChannelsAndDepthwiseFallsBackToChannels() throws {
        let graph = try smallConvolutionalGraph(seed: 7)
        let recipe = QuantizationRecipe(weights: try QuantScheme(bits: 4, symmetry: .symmetric, granularity: .perBlock(axis: 1, size: 2)))
        let plan = try QuantizationPlan(graph: graph, recipe: recipe)
        let schemes = Dictionary(uniqueKeysWithValues: plan.weights.map { ($0.node, $0.scheme.granularity) })
        #expect(schemes["conv"] == .perBlock(axis: 3, size: 2))
        #expect(schemes["dw"] == .perChannel(axis: 0))
        #expect(schemes["fc"] == .perBlock(axis: 1, size: 2))
        #expect(plan.notes.contains { $0.hasPrefix("dw: 1 input channel(s) per group") })
        // The encodings the plan asks for can be computed.
        _ = try Calibrator.encodeWeights(plan: plan, graph: graph)
    }
}

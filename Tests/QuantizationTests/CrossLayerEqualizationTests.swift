import Foundation
import ModelGraph
import Quantization
import QuantCore
import Runtime
import Testing

@Suite struct CrossLayerEqualizationTests {
    /// The folded MobileNetV2-like model with ReLU6 → ReLU, and the fold report.
    static func foldedReLUModel() throws -> (model: SyntheticModels.Model, relu: Graph, folds: BatchNormFoldingReport) {
        let model = try SyntheticModels.mobileNetLike()
        let (folded, report) = try BatchNormFolding.fold(model.graph)
        return (model, CrossLayerEqualization.replacingReLU6(in: folded).0, report)
    }

    static let scalingOnly = CrossLayerEqualization.Options(absorbsHighBias: false)

    /// Scaling alone is exact on the ReLU model: max|Δy| / max|y| ≤ 1e-5.
    @Test func scalingPreservesTheReLUModel() throws {
        let (model, relu, folds) = try Self.foldedReLUModel()
        let (folded, _) = try BatchNormFolding.fold(model.graph)
        let (equalized, report) = try CrossLayerEqualization.equalize(folded, foldedBatchNorms: folds.folded, options: Self.scalingOnly)
        #expect(report.replacedReLU6.count == 7)
        #expect(report.lines.first?.contains("replaced 7 ReLU6 with ReLU") == true)
        #expect(report.converged)
        #expect(report.iterations >= 1 && report.iterations <= 100)
        let triplets = report.sets.filter { $0.layers.count == 3 }.map(\.layers)
        #expect(triplets == [["stem.conv", "block1.depthwise.conv", "block1.project.conv"],
                             ["block2.expand.conv", "block2.depthwise.conv", "block2.project.conv"],
                             ["block3.expand.conv", "block3.depthwise.conv", "block3.project.conv"]])
        // The projections of blocks 2 and 3 feed the residual add (block 2's also the next
        // block): reported as skipped with the reason.
        let skippedReasons = report.skipped.map(\.reason)
        #expect(skippedReasons.contains { $0.hasPrefix("after block2.project.conv: its output branches to 2 readers") })
        #expect(skippedReasons.contains { $0.hasPrefix("after block3.project.conv: its output goes to add block3.add") })
        let before = try SyntheticModels.outputs(of: relu, on: model.evaluation)
        let after = try SyntheticModels.outputs(of: equalized, on: model.evaluation)
        let relative = SyntheticModels.relativeMaximumDifference(before, after)
        #expect(relative <= 1e-5, "max|Δy|/max|y| = \(relative)")
    }

    /// The per-channel weight ranges become balanced, and W8 per-tensor weights lose less.
    @Test func equalizationBalancesRangesAndRaisesPerTensorSQNR() throws {
        let (model, relu, folds) = try Self.foldedReLUModel()
        let (equalized, report) = try CrossLayerEqualization.equalize(relu, foldedBatchNorms: folds.folded, options: Self.scalingOnly)
        let median = try #require(report.medianSpread)
        #expect(median.after * 5 < median.before, "median spread \(median.before) → \(median.after)")
        for spread in report.spreads where spread.layer.contains("depthwise") {
            #expect(spread.after < spread.before, "\(spread.layer): \(spread.before) → \(spread.after)")
        }
        let scheme = try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perTensor)
        let reference = try SyntheticModels.outputs(of: relu, on: model.evaluation)
        func sqnr(_ graph: Graph) throws -> Double {
            let quantized = try QuantizationSimulator.applyingWeightEncodings(try SyntheticModels.weightEncodings(graph, scheme: scheme), to: graph)
            return try QuantizationMetrics.sqnr(reference: reference, approximation: try SyntheticModels.outputs(of: quantized, on: model.evaluation))
        }
        let plain = try sqnr(relu), balanced = try sqnr(equalized)
        print("W8 per-tensor output SQNR: \(plain) dB without CLE, \(balanced) dB with CLE; spread median \(median)")
        #expect(balanced > plain + 6, "SQNR \(plain) dB → \(balanced) dB")
    }

    /// High-bias absorption on top: outputs stay close (absorption is exact only for
    /// pre-activations above β − 3|γ| and away from padded borders) and biases shrink.
    @Test func highBiasAbsorptionKeepsOutputsClose() throws {
        let (model, relu, folds) = try Self.foldedReLUModel()
        let (scaled, _) = try CrossLayerEqualization.equalize(relu, foldedBatchNorms: folds.folded, options: Self.scalingOnly)
        let (absorbed, report) = try CrossLayerEqualization.equalize(relu, foldedBatchNorms: folds.folded)
        #expect(!report.absorptions.isEmpty)
        #expect(report.absorptions.contains { $0.approximateAtBorders })
        for absorption in report.absorptions {
            let before = scaled.node(named: absorption.from)!.parameters["bias"]!.scalars
            let after = absorbed.node(named: absorption.from)!.parameters["bias"]!.scalars
            #expect(zip(before, after).allSatisfy { $1 <= $0 }, "\(absorption.from): biases only go down")
        }
        let reference = try SyntheticModels.outputs(of: relu, on: model.evaluation)
        let output = try SyntheticModels.outputs(of: absorbed, on: model.evaluation)
        let relative = SyntheticModels.relativeMaximumDifference(reference, output)
        let sqnr = try QuantizationMetrics.sqnr(reference: reference, approximation: output)
        print("high-bias absorption: max|Δy|/max|y| = \(relative), SQNR \(sqnr) dB")
        #expect(sqnr > 30, "SQNR of the absorbed model against the ReLU model: \(sqnr) dB")
        #expect(report.lines.contains { $0.hasPrefix("high-bias absorption: moved bias of") })
    }

    /// Without an activation between two unpadded layers, absorbing the whole β is exact.
    @Test func highBiasAbsorptionIsExactWithoutActivation() throws {
        var factory = SyntheticModels.LayerFactory(seed: 21)
        let input = factory.builder.input("image")
        var value = factory.convBlock("first", input, inputs: 3, outputs: 8, kernel: 3, activation: nil)
        value = factory.convBlock("second", value, inputs: 8, outputs: 6, kernel: 1, activation: .relu)
        value = factory.conv("third", value, inputs: 6, outputs: 4, kernel: 1)
        let inputs = SyntheticModels.images(batches: 2, batch: 2, size: 8, seed: 22)
        let graph = try SyntheticModels.calibrateBatchNorms(try factory.builder.finish(outputs: [value]), inputs: inputs)
        let (folded, folds) = try BatchNormFolding.fold(graph)
        // A huge k leaves nothing to absorb through the ReLU; the first pair has no activation.
        let options = CrossLayerEqualization.Options(absorptionSigmas: 1000)
        let (equalized, report) = try CrossLayerEqualization.equalize(folded, foldedBatchNorms: folds.folded, options: options)
        #expect(report.sets.map(\.between) == [["none"], ["second.act"]])
        #expect(report.absorptions.count == 1)
        #expect(report.absorptions.first?.from == "first.conv")
        #expect(report.absorptions.first?.channels == 8)
        let relative = SyntheticModels.relativeMaximumDifference(try SyntheticModels.outputs(of: folded, on: inputs),
                                                                 try SyntheticModels.outputs(of: equalized, on: inputs))
        #expect(relative <= 1e-4, "max|Δy|/max|y| = \(relative)")
    }

    /// Dense 3×3 conv pairs, a linear pair and grouped layouts keep the function exactly;
    /// overlapping pairs need several iterations.
    @Test func denseChainsConvergeAndStayExact() throws {
        var factory = SyntheticModels.LayerFactory(seed: 31)
        let input = factory.builder.input("image")
        var value = factory.activation("a1", .relu, factory.conv("c1", input, inputs: 3, outputs: 8, kernel: 3, bias: true))
        value = factory.activation("a2", .relu, factory.conv("c2", value, inputs: 8, outputs: 8, kernel: 3, stride: 2, bias: true))
        value = factory.conv("c3", value, inputs: 8, outputs: 16, kernel: 3, bias: true)
        value = factory.builder.add("pool", .globalAveragePool, inputs: [value])
        value = factory.activation("a4", .relu, factory.linear("l1", value, inputs: 16, outputs: 12))
        value = factory.linear("l2", value, inputs: 12, outputs: 5)
        var graph = try factory.builder.finish(outputs: [value])
        // Uneven channel scales, as a folded BN would leave.
        for name in ["c1", "c2", "l1"] {
            let index = graph.nodes.firstIndex { $0.name == name }!
            var weight = graph.nodes[index].parameters["weight"]!
            var bias = graph.nodes[index].parameters["bias"]!
            let rowLength = weight.count / weight.shape[0]
            for row in 0..<weight.shape[0] {
                let factor = Float(pow(10, Double(row % 5) / 2 - 1))
                for column in 0..<rowLength { weight.scalars[row * rowLength + column] *= factor }
                bias.scalars[row] *= factor
            }
            graph.nodes[index].parameters["weight"] = weight
            graph.nodes[index].parameters["bias"] = bias
        }
        let (equalized, report) = try CrossLayerEqualization.equalize(graph)
        #expect(report.sets.map(\.layers) == [["c1", "c2"], ["c2", "c3"], ["l1", "l2"]])
        #expect(report.converged)
        #expect(report.iterations > 1)
        #expect(report.absorptions.isEmpty)
        #expect(report.absorptionSkipped.allSatisfy { $0.reason.contains("no batch norm was folded") })
        let inputs = SyntheticModels.images(batches: 2, batch: 2, size: 11, seed: 32)
        let relative = SyntheticModels.relativeMaximumDifference(try SyntheticModels.outputs(of: graph, on: inputs),
                                                                 try SyntheticModels.outputs(of: equalized, on: inputs))
        #expect(relative <= 1e-5, "max|Δy|/max|y| = \(relative)")
        #expect(try #require(report.medianSpread).after < 1.5)
    }

    /// A sigmoid, a branching add, a ReLU6 kept as is and a grouped conv stop equalization with
    /// a reason; nothing changes.
    @Test func unsupportedNeighboursAreSkippedWithReasons() throws {
        var factory = SyntheticModels.LayerFactory(seed: 41)
        let input = factory.builder.input("image")
        let first = factory.conv("c1", input, inputs: 3, outputs: 8, kernel: 1)
        var value = factory.conv("c2", factory.activation("s", .sigmoid, first), inputs: 8, outputs: 8, kernel: 1)
        let branch = factory.conv("c3", value, inputs: 8, outputs: 8, kernel: 1)
        value = factory.builder.add("sum", .add, inputs: [value, branch])
        value = factory.conv("c4", factory.activation("r6", .relu6, value), inputs: 8, outputs: 8, kernel: 1)
        value = factory.conv("c5", factory.activation("r", .relu, value), inputs: 8, outputs: 8, kernel: 1, groups: 2)
        let graph = try factory.builder.finish(outputs: [value])
        let options = CrossLayerEqualization.Options(replacesReLU6: false)
        let (equalized, report) = try CrossLayerEqualization.equalize(graph, options: options)
        #expect(equalized == graph)
        #expect(report.sets.isEmpty)
        let reasons = report.skipped.map(\.reason)
        #expect(reasons.contains { $0.hasPrefix("after c1: the activation sigmoid s") })
        #expect(reasons.contains { $0.hasPrefix("after c2: its output branches to 2 readers") })
        #expect(reasons.contains { $0.hasPrefix("after c3: its output goes to add sum") })
        #expect(reasons.contains { $0.contains("ReLU6 r6 clips at 6") })
        #expect(reasons.contains { $0.contains("c5 is a grouped convolution (2 groups)") })
        #expect(report.lines.contains("cross-layer equalization: no layer pair or triplet to scale; weights unchanged"))
    }

    @Test func reportRoundTripsThroughJSON() throws {
        let (_, relu, folds) = try Self.foldedReLUModel()
        let (_, report) = try CrossLayerEqualization.equalize(relu, foldedBatchNorms: folds.folded)
        let data = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(CrossLayerEqualizationReport.self, from: data) == report)
    }

    @Test func rejectsInvalidOptions() throws {
        let (_, relu, _) = try Self.foldedReLUModel()
        #expect(throws: QuantizationPipelineError.self) {
            try CrossLayerEqualization.equalize(relu, options: .init(maximumIterations: 0))
        }
    }
}

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

    /// With ReLU6 replaced (AIMET's way), scaling alone is exact on the ReLU model:
    /// max|Δy| / max|y| ≤ 1e-5.
    @Test func scalingPreservesTheReLUModel() throws {
        let (model, relu, folds) = try Self.foldedReLUModel()
        let (folded, _) = try BatchNormFolding.fold(model.graph)
        var options = Self.scalingOnly
        options.replacesReLU6 = true
        let (equalized, report) = try CrossLayerEqualization.equalize(folded, foldedBatchNorms: folds.folded, options: options)
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
        let skipped = Dictionary(uniqueKeysWithValues: report.skipped.map { ($0.layers, $0.reason) })
        #expect(skipped[["block2.project.conv"]]?.hasPrefix("its output branches to 2 readers (block3.expand.conv, block3.add)") == true)
        #expect(skipped[["block3.project.conv"]] == "its output goes to add block3.add, which CLE does not scale through")
        #expect(report.lines.contains("  nothing scaled after head.conv: its output goes to global_average_pool pool, which CLE does not scale through"))
        let before = try SyntheticModels.outputs(of: relu, on: model.evaluation)
        let after = try SyntheticModels.outputs(of: equalized, on: model.evaluation)
        let relative = SyntheticModels.relativeMaximumDifference(before, after)
        #expect(relative <= 1e-5, "max|Δy|/max|y| = \(relative)")
    }

    /// By default ReLU6 stays: the ReLU6 nodes between scaled layers become per-channel
    /// bounded ReLUs (ceiling 6/s), and the equalized model is the *original* model, also on
    /// inputs large enough that the clip matters (where the ReLU model differs).
    @Test func scalingKeepsReLU6ExactWithPerChannelCeilings() throws {
        let model = try SyntheticModels.mobileNetLike()
        let (folded, folds) = try BatchNormFolding.fold(model.graph)
        let (equalized, report) = try CrossLayerEqualization.equalize(folded, foldedBatchNorms: folds.folded, options: Self.scalingOnly)
        #expect(report.replacedReLU6.isEmpty)
        // The two ReLU6 inside each of the three triplets, in graph order; the head's is not
        // between scaled layers.
        #expect(report.rescaledCeilings == ["stem.act", "block1.depthwise.act", "block2.expand.act", "block2.depthwise.act",
                                            "block3.expand.act", "block3.depthwise.act"])
        #expect(report.lines.first?.hasPrefix("cross-layer equalization: kept 6 ReLU6 exact as per-channel bounded ReLUs") == true)
        let head = try #require(equalized.node(named: "head.act"))
        #expect(head.op == .activation(.relu6))
        let stem = try #require(equalized.node(named: "stem.act"))
        #expect(stem.op == .boundedReLU)
        let ceilings = try #require(stem.parameters["ceiling"]).scalars
        #expect(ceilings.count == 16 && Set(ceilings).count > 8 && ceilings.allSatisfy { $0 > 0 && $0.isFinite })
        #expect(stem.parameterSources["ceiling"] == "stem.act.ceiling")

        // Inputs scaled up 30× drive most activations past 6.
        let loud = model.evaluation.map { feed in feed.mapValues { Tensor(shape: $0.shape, scalars: $0.scalars.map { $0 * 30 }) } }
        for inputs in [model.evaluation, loud] {
            let reference = try SyntheticModels.outputs(of: folded, on: inputs)
            let relative = SyntheticModels.relativeMaximumDifference(reference, try SyntheticModels.outputs(of: equalized, on: inputs))
            #expect(relative <= 1e-5, "max|Δy|/max|y| = \(relative)")
        }
        let reluModel = CrossLayerEqualization.replacingReLU6(in: folded).0
        let replacementChange = SyntheticModels.relativeMaximumDifference(try SyntheticModels.outputs(of: folded, on: loud),
                                                                          try SyntheticModels.outputs(of: reluModel, on: loud))
        #expect(replacementChange > 1e-2, "the clip matters on these inputs: \(replacementChange)")

        // The rewritten graph survives graph.json.
        let description = try GraphDescription(equalized)
        let decoded = try JSONDecoder().decode(GraphDescription.self, from: try JSONEncoder().encode(description))
        #expect(decoded == description)
    }

    /// High-bias absorption through a kept ReLU6 lowers the ceiling by what it moves (never
    /// below 0), and is exact where the pre-activation is above the absorbed amount — here
    /// everywhere (k = 6), including channels that sit at the clip.
    @Test func highBiasAbsorptionThroughReLU6LowersTheCeilings() throws {
        var factory = SyntheticModels.LayerFactory(seed: 71)
        let input = factory.builder.input("image")
        var value = factory.convBlock("first", input, inputs: 3, outputs: 8, kernel: 1, activation: .relu6)
        value = factory.conv("second", value, inputs: 8, outputs: 4, kernel: 1, bias: true)
        let inputs = SyntheticModels.images(batches: 2, batch: 2, size: 6, seed: 72)
        var graph = try SyntheticModels.calibrateBatchNorms(try factory.builder.finish(outputs: [value]), inputs: inputs)
        // Normalised pre-activations ~ N(β, γ²): channels well inside (0, 6), near the clip
        // and beyond it.
        let bn = graph.nodes.firstIndex { $0.name == "first.bn" }!
        graph.nodes[bn].parameters["weight"] = Tensor(shape: [8], scalars: [0.1, 0.05, 0.2, 0.1, 0.05, 0.1, 0.02, 0.1])
        graph.nodes[bn].parameters["bias"] = Tensor(shape: [8], scalars: [3, 5.9, 1, 7, 6.2, 4, 0.5, 2])
        let (folded, folds) = try BatchNormFolding.fold(graph)
        let options = CrossLayerEqualization.Options(absorptionSigmas: 6)
        let (absorbed, report) = try CrossLayerEqualization.equalize(folded, foldedBatchNorms: folds.folded, options: options)
        #expect(report.rescaledCeilings == ["first.act"])
        #expect(report.absorptions.map(\.into) == ["second"])
        let ceilings = try #require(absorbed.node(named: "first.act")?.parameters["ceiling"]).scalars
        #expect(ceilings.allSatisfy { $0 >= 0 })
        #expect(ceilings[3] == 0, "a channel always past the clip keeps only a constant: \(ceilings)")
        let relative = SyntheticModels.relativeMaximumDifference(try SyntheticModels.outputs(of: folded, on: inputs),
                                                                 try SyntheticModels.outputs(of: absorbed, on: inputs))
        #expect(relative <= 1e-4, "max|Δy|/max|y| = \(relative)")
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

    /// High-bias absorption on top of scaling on the MobileNetV2-like model. Into 1×1 layers
    /// it is exact for pre-activations above β − 3|γ| (the rest are rare); into the padded
    /// depthwise convolutions it is approximate at the borders, which on 8×8 feature maps is a
    /// large share of the pixels — hence the option to leave those out.
    @Test func highBiasAbsorptionKeepsOutputsClose() throws {
        let (model, relu, folds) = try Self.foldedReLUModel()
        let (scaled, _) = try CrossLayerEqualization.equalize(relu, foldedBatchNorms: folds.folded, options: Self.scalingOnly)
        let reference = try SyntheticModels.outputs(of: relu, on: model.evaluation)
        let exactOnly = CrossLayerEqualization.Options(absorbsIntoPaddedLayers: false)
        let (unpadded, unpaddedReport) = try CrossLayerEqualization.equalize(relu, foldedBatchNorms: folds.folded, options: exactOnly)
        #expect(unpaddedReport.absorptions.map(\.into) == ["block1.project.conv", "block2.expand.conv", "block2.project.conv", "block3.project.conv"])
        #expect(unpaddedReport.absorptionSkipped.contains { $0.reason.contains("zero-pads its input") })
        let unpaddedSQNR = try QuantizationMetrics.sqnr(reference: reference, approximation: try SyntheticModels.outputs(of: unpadded, on: model.evaluation))
        #expect(unpaddedSQNR > 30, "SQNR against the ReLU model without padded absorption: \(unpaddedSQNR) dB")

        let everywhere = CrossLayerEqualization.Options(absorbsIntoPaddedLayers: true)
        let (absorbed, report) = try CrossLayerEqualization.equalize(relu, foldedBatchNorms: folds.folded, options: everywhere)
        #expect(report.absorptions.count == 7)
        #expect(report.absorptions.filter(\.approximateAtBorders).map(\.into)
                == ["block1.depthwise.conv", "block2.depthwise.conv", "block3.depthwise.conv"])
        // The stem only gives (it is no pair's second layer): its biases only go down.
        let before = scaled.node(named: "stem.conv")!.parameters["bias"]!.scalars
        let after = absorbed.node(named: "stem.conv")!.parameters["bias"]!.scalars
        #expect(zip(before, after).allSatisfy { $1 <= $0 } && before != after)
        let sqnr = try QuantizationMetrics.sqnr(reference: reference, approximation: try SyntheticModels.outputs(of: absorbed, on: model.evaluation))
        print("high-bias absorption: SQNR against the ReLU model \(unpaddedSQNR) dB (unpadded only), \(sqnr) dB (all)")
        #expect(sqnr > 15, "SQNR of the absorbed model against the ReLU model: \(sqnr) dB")
        #expect(report.lines.contains { $0.hasPrefix("high-bias absorption: moved bias of") })
        #expect(report.lines.contains { $0.contains("approximate at the borders") })
    }

    /// Into a padded depthwise 3×3 convolution, absorption is exact in the interior and only
    /// the border pixels move (with k = 6 no Gaussian pre-activation falls below the absorbed amount).
    @Test func highBiasAbsorptionIntoPaddedLayerIsExactInTheInterior() throws {
        var factory = SyntheticModels.LayerFactory(seed: 23)
        let input = factory.builder.input("image")
        var value = factory.convBlock("first", input, inputs: 3, outputs: 16, kernel: 1, activation: .relu)
        // No batch norm on the depthwise layer: the only absorption is first → second, whose
        // pre-activations (a 1×1 conv of Gaussian pixels) are Gaussian.
        value = factory.activation("second.act", .relu, factory.conv("second", value, inputs: 16, outputs: 16, kernel: 3, groups: 16))
        value = factory.conv("third", value, inputs: 16, outputs: 4, kernel: 1)
        let inputs = SyntheticModels.images(batches: 2, batch: 4, size: 12, seed: 24)
        let graph = try SyntheticModels.calibrateBatchNorms(try factory.builder.finish(outputs: [value]), inputs: inputs)
        let (folded, folds) = try BatchNormFolding.fold(graph)
        let options = CrossLayerEqualization.Options(absorptionSigmas: 6, absorbsIntoPaddedLayers: true)
        let (absorbed, report) = try CrossLayerEqualization.equalize(folded, foldedBatchNorms: folds.folded, options: options)
        #expect(report.absorptions.map(\.into) == ["second"])
        #expect(report.absorptions.first?.approximateAtBorders == true)
        let reference = try SyntheticModels.outputs(of: folded, on: inputs)
        let output = try SyntheticModels.outputs(of: absorbed, on: inputs)
        // [batch, 12, 12, 4] per input: split interior and border pixels.
        var interior: ([Float], [Float]) = ([], []), border: ([Float], [Float]) = ([], [])
        for index in reference.indices {
            let pixel = index / 4, row = (pixel / 12) % 12, column = pixel % 12
            if row == 0 || row == 11 || column == 0 || column == 11 {
                border.0.append(reference[index]); border.1.append(output[index])
            } else {
                interior.0.append(reference[index]); interior.1.append(output[index])
            }
        }
        let interiorDifference = SyntheticModels.relativeMaximumDifference(interior.0, interior.1)
        let borderDifference = SyntheticModels.relativeMaximumDifference(border.0, border.1)
        #expect(interiorDifference <= 1e-4, "interior max|Δy|/max|y| = \(interiorDifference)")
        #expect(borderDifference > 1e-3, "border max|Δy|/max|y| = \(borderDifference)")
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
        for spread in report.spreads where ["c1", "l1"].contains(spread.layer) {
            #expect(spread.after * 3 < spread.before, "\(spread.layer): \(spread.before) → \(spread.after)")
        }
    }

    /// Pairs with a depthwise convolution on either side (no triplet possible) keep the
    /// function exactly: the depthwise weight `[channels, kh, kw, 1]` is indexed per channel.
    @Test(arguments: [true, false])
    func depthwisePairsStayExact(depthwiseFirst: Bool) throws {
        var factory = SyntheticModels.LayerFactory(seed: depthwiseFirst ? 61 : 62)
        let input = factory.builder.input("image")
        var value = factory.activation("a0", .relu, factory.conv("c0", input, inputs: 3, outputs: 8, kernel: 1))
        value = factory.builder.add("pool", .pool2d(Pool2DAttributes(kind: .max, window: Window2D(height: 2, width: 2, strideHeight: 2, strideWidth: 2))),
                                    inputs: [value])
        if depthwiseFirst {
            value = factory.activation("a1", .relu, factory.conv("dw", value, inputs: 8, outputs: 8, kernel: 3, groups: 8, bias: true))
            value = factory.conv("pw", value, inputs: 8, outputs: 6, kernel: 1)
        } else {
            value = factory.activation("a1", .relu, factory.conv("pw", value, inputs: 8, outputs: 8, kernel: 3, bias: true))
            value = factory.conv("dw", value, inputs: 8, outputs: 8, kernel: 3, stride: 2, groups: 8)
        }
        var graph = try factory.builder.finish(outputs: [value])
        // Uneven output channels in the first layer of the pair.
        let first = graph.nodes.firstIndex { $0.name == (depthwiseFirst ? "dw" : "pw") }!
        var weight = graph.nodes[first].parameters["weight"]!
        let rowLength = weight.count / weight.shape[0]
        for index in weight.scalars.indices { weight.scalars[index] *= Float(1 + 30 * ((index / rowLength) % 3)) }
        graph.nodes[first].parameters["weight"] = weight
        let (equalized, report) = try CrossLayerEqualization.equalize(graph)
        #expect(report.sets.map(\.layers) == [depthwiseFirst ? ["dw", "pw"] : ["pw", "dw"]])
        let inputs = SyntheticModels.images(batches: 2, batch: 2, size: 12, seed: 63)
        let relative = SyntheticModels.relativeMaximumDifference(try SyntheticModels.outputs(of: graph, on: inputs),
                                                                 try SyntheticModels.outputs(of: equalized, on: inputs))
        #expect(relative <= 1e-5, "max|Δy|/max|y| = \(relative)")
        let spread = try #require(report.spreads.first { $0.layer == (depthwiseFirst ? "dw" : "pw") })
        #expect(spread.after < spread.before)
    }

    /// A sigmoid, a branching add, a SiLU and a grouped conv stop equalization with a reason;
    /// nothing changes.
    @Test func unsupportedNeighboursAreSkippedWithReasons() throws {
        var factory = SyntheticModels.LayerFactory(seed: 41)
        let input = factory.builder.input("image")
        let first = factory.conv("c1", input, inputs: 3, outputs: 8, kernel: 1)
        var value = factory.conv("c2", factory.activation("s", .sigmoid, first), inputs: 8, outputs: 8, kernel: 1)
        let branch = factory.conv("c3", value, inputs: 8, outputs: 8, kernel: 1)
        value = factory.builder.add("sum", .add, inputs: [value, branch])
        value = factory.conv("c4", value, inputs: 8, outputs: 8, kernel: 1)
        value = factory.conv("c5", factory.activation("silu", .silu, value), inputs: 8, outputs: 8, kernel: 1)
        value = factory.conv("c6", factory.activation("r", .relu, value), inputs: 8, outputs: 8, kernel: 1, groups: 2)
        let graph = try factory.builder.finish(outputs: [value])
        let (equalized, report) = try CrossLayerEqualization.equalize(graph)
        #expect(equalized == graph)
        #expect(report.sets.isEmpty)
        let skipped = Dictionary(uniqueKeysWithValues: report.skipped.map { ($0.layers, $0.reason) })
        #expect(skipped[["c1"]]?.hasPrefix("the activation sigmoid s does not commute") == true)
        #expect(skipped[["c2"]]?.hasPrefix("its output branches to 2 readers") == true)
        #expect(skipped[["c3"]]?.hasPrefix("its output goes to add sum") == true)
        #expect(skipped[["c4"]]?.hasPrefix("the activation silu silu does not commute") == true)
        #expect(skipped[["c5", "c6"]]?.hasPrefix("c6 is a grouped convolution (2 groups)") == true)
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

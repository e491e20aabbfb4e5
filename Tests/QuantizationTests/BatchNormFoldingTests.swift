import Foundation
import ModelGraph
import Quantization
import QuantCore
import Runtime
import Testing

@Suite struct BatchNormFoldingTests {
    /// Every conv → BN of the MobileNetV2-like model folds into the conv; outputs stay within
    /// max|Δy| / max|y| ≤ 1e-5.
    @Test func foldsEveryBatchNormOfMobileNetLikeModelExactly() throws {
        let model = try SyntheticModels.mobileNetLike()
        let (folded, report) = try BatchNormFolding.fold(model.graph)
        #expect(report.folded.count == 10)
        #expect(report.skipped.isEmpty)
        #expect(report.folded.allSatisfy { $0.direction == .intoPreceding })
        #expect(!folded.nodes.contains { if case .batchNorm = $0.op { return true } else { return false } })
        for fold in report.folded {
            let layer = try #require(folded.node(named: fold.layer))
            #expect(layer.parameters["bias"]?.shape == [fold.gamma.count], "\(fold.layer) gained a bias")
            let batchNorm = try #require(model.graph.node(named: fold.batchNorm))
            #expect(fold.gamma == batchNorm.parameters["weight"]!.scalars)
            #expect(fold.beta == batchNorm.parameters["bias"]!.scalars)
        }
        let before = try SyntheticModels.outputs(of: model.graph, on: model.evaluation)
        let after = try SyntheticModels.outputs(of: folded, on: model.evaluation)
        let relative = SyntheticModels.relativeMaximumDifference(before, after)
        #expect(relative <= 1e-5, "max|Δy|/max|y| = \(relative)")
        #expect(report.foldedIntoPrecedingByLayer.keys.sorted() == report.folded.map(\.layer).sorted())
        #expect(report.lines.first?.contains("folded 10 batch norm(s)") == true)
    }

    /// BN → conv (no padding), BN → grouped conv and BN → linear fold into the following layer.
    @Test(arguments: [1, 3])
    func foldsIntoFollowingUnpaddedLayer(groups: Int) throws {
        var factory = SyntheticModels.LayerFactory(seed: UInt64(10 + groups))
        let image = factory.builder.input("image")
        var value = factory.activation("relu", .relu, image)
        value = factory.builder.add("concat-free", .add, inputs: [value, image])
        value = factory.batchNorm("bn", value, channels: 3)
        value = factory.conv("conv", value, inputs: 3, outputs: 12, kernel: 3, groups: groups, padding: .valid, bias: groups == 3)
        value = factory.batchNorm("bn2", factory.activation("relu2", .relu, value), channels: 12)
        value = factory.builder.add("pool", .globalAveragePool, inputs: [value])
        value = factory.linear("head", value, inputs: 12, outputs: 4, bias: false)
        let graph = try SyntheticModels.calibrateBatchNorms(try factory.builder.finish(outputs: [value]),
                                                            inputs: SyntheticModels.images(batches: 2, batch: 2, size: 9, seed: 3))
        // Pool → linear: bn2 feeds the pool, not a layer: it must stay.
        let inputs = SyntheticModels.images(batches: 2, batch: 2, size: 9, seed: 4)
        let (folded, report) = try BatchNormFolding.fold(graph)
        #expect(report.folded.map(\.batchNorm) == ["bn"])
        #expect(report.folded.first?.direction == .intoFollowing)
        #expect(report.skipped.map(\.batchNorm) == ["bn2"])
        #expect(report.skipped.first?.reason.contains("global_average_pool pool") == true)
        let relative = SyntheticModels.relativeMaximumDifference(try SyntheticModels.outputs(of: graph, on: inputs),
                                                                 try SyntheticModels.outputs(of: folded, on: inputs))
        #expect(relative <= 1e-5, "max|Δy|/max|y| = \(relative)")
    }

    @Test func foldsIntoFollowingLinearLayer() throws {
        var factory = SyntheticModels.LayerFactory(seed: 5)
        let input = factory.builder.input("image")
        var value = factory.builder.add("pool", .globalAveragePool, inputs: [input])
        value = factory.batchNorm("bn", value, channels: 3)
        value = factory.linear("head", value, inputs: 3, outputs: 5)
        let graph = try factory.builder.finish(outputs: [value])
        let inputs = SyntheticModels.images(batches: 1, batch: 3, size: 4, seed: 6)
        let (folded, report) = try BatchNormFolding.fold(graph)
        #expect(report.folded.map(\.layer) == ["head"])
        let relative = SyntheticModels.relativeMaximumDifference(try SyntheticModels.outputs(of: graph, on: inputs),
                                                                 try SyntheticModels.outputs(of: folded, on: inputs))
        #expect(relative <= 1e-5)
    }

    /// A padded conv after the BN would see zeros where the folded model needs the BN shift:
    /// the fold is refused with that reason and the graph is unchanged.
    @Test func refusesFoldIntoPaddedConvolution() throws {
        var factory = SyntheticModels.LayerFactory(seed: 8)
        let input = factory.builder.input("image")
        var value = factory.batchNorm("bn", input, channels: 3)
        value = factory.conv("conv", value, inputs: 3, outputs: 4, kernel: 3)
        let graph = try factory.builder.finish(outputs: [value])
        let (folded, report) = try BatchNormFolding.fold(graph)
        #expect(folded == graph)
        #expect(report.folded.isEmpty)
        #expect(report.skipped.count == 1)
        #expect(report.skipped[0].reason.contains("its input is a graph input"))
        #expect(report.skipped[0].reason.contains("zero-pads its input"))
        #expect(report.lines.first == "batch-norm folding: no foldable batch norm; the graph is unchanged")
    }

    /// A conv whose output is read by the BN and by something else cannot absorb the BN.
    @Test func keepsBatchNormWhenConvolutionOutputBranches() throws {
        var factory = SyntheticModels.LayerFactory(seed: 9)
        let input = factory.builder.input("image")
        let conv = factory.conv("conv", input, inputs: 3, outputs: 4, kernel: 1)
        let normalized = factory.batchNorm("bn", conv, channels: 4)
        let sum = factory.builder.add("sum", .add, inputs: [conv, normalized])
        let graph = try factory.builder.finish(outputs: [sum])
        let (folded, report) = try BatchNormFolding.fold(graph)
        #expect(folded == graph)
        #expect(report.skipped.first?.reason.contains("also read elsewhere") == true)
    }

    @Test func graphWithoutBatchNormsIsUnchanged() throws {
        var factory = SyntheticModels.LayerFactory(seed: 11)
        let input = factory.builder.input("image")
        let value = factory.activation("relu", .relu, factory.conv("conv", input, inputs: 3, outputs: 4, kernel: 3))
        let graph = try factory.builder.finish(outputs: [value])
        let (folded, report) = try BatchNormFolding.fold(graph)
        #expect(folded == graph)
        #expect(report.folded.isEmpty && report.skipped.isEmpty)
        #expect(report.lines == ["batch-norm folding: the graph has no batch norms; nothing changed"])
    }

    @Test func rejectsBatchNormWithNegativeVariance() throws {
        var factory = SyntheticModels.LayerFactory(seed: 12)
        let input = factory.builder.input("image")
        let value = factory.batchNorm("bn", factory.conv("conv", input, inputs: 3, outputs: 2, kernel: 1), channels: 2)
        var graph = try factory.builder.finish(outputs: [value])
        graph.nodes[1].parameters["variance"] = Tensor(shape: [2], scalars: [1, -1])
        #expect(throws: QuantizationPipelineError.self) { try BatchNormFolding.fold(graph) }
    }

    @Test func reportRoundTripsThroughJSON() throws {
        let (_, report) = try BatchNormFolding.fold(try SyntheticModels.mobileNetLike().graph)
        let data = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(BatchNormFoldingReport.self, from: data) == report)
    }
}

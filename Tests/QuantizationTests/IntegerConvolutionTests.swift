import AimetTestSupport
import Foundation
import ModelGraph
import ModelIO
import QuantCore
@testable import Quantization
@testable import Runtime
import Testing

/// Compressed classifiers on the integer convolution kernels against their QuantSim (the
/// dequantized weights on fp32 kernels with the activation quantizers as a fake-quant tap):
/// a synthetic MobileNetV2-like CNN (W8A8 per-channel, W4 weight-only) and the real fer
/// model. The two differ only in fp32 summation order; where that moves a value across a
/// rounding boundary of a later activation quantizer the difference is one grid step,
/// which the logits tolerance below allows. Integer runs are bit-identical across threads.
@Suite(.serialized) struct IntegerConvolutionTests {
    /// max |integer − QuantSim| ≤ `logitTolerance` · max |QuantSim logit|.
    static let logitTolerance: Float = 0.05

    static func inputs(_ feeds: [[String: Tensor]]) -> [NamedTensor] {
        feeds.enumerated().map { NamedTensor(name: "feed\($0.offset)", tensor: $0.element["image"]!) }
    }

    /// Calibrates the batch-norm-folded synthetic model under `recipe` and exports it.
    static func exportSynthetic(_ recipe: QuantizationRecipe, to folder: String) throws -> SyntheticModels.Model {
        let model = try SyntheticModels.mobileNetLike()
        let (folded, _) = try BatchNormFolding.fold(model.graph)
        let outcome = try GraphCalibrator.calibrate(graph: folded, feeds: model.calibration, recipe: recipe, source: "synthetic",
                                                    threads: 2)
        let result = CalibrationResult(modelPath: "synthetic", sourceSHA256: String(repeating: "0", count: 64), recipe: recipe,
                                       weightEncodings: outcome.weightEncodings, activationEncodings: outcome.activationEncodings,
                                       sampleCount: model.calibration.count, notes: [])
        try ClassifierExport.export(ClassifierCalibration(result: result, graph: folded, classifierInput: "image",
                                                          preprocessingName: "imagenet"), to: folder)
        return model
    }

    static func recipe(bits: Int, activations: ActivationPrecision) throws -> QuantizationRecipe {
        var recipe = QuantizationRecipe(weights: try QuantScheme(bits: bits, symmetry: .symmetric, granularity: .perChannel(axis: 0)),
                                        activations: activations)
        recipe.sixteenBitThreshold = nil
        recipe.keepFloat = []
        return recipe
    }

    /// The QuantSim logits and the integer logits on 1 and 2 threads, with the plan.
    static func compare(folder: String, inputs: [NamedTensor])
        throws -> (quantSim: [Float], integer: [Float], plan: IntegerConvolutionPlanner.Plan, classes: Int) {
        let classifier = try ImageClassifier.load(path: folder, architecture: nil)
        let quantSim = try ClassifierEvaluation.Runner(classifier, activationEncodings: try ClassifierExport.activationEncodings(of: folder),
                                                       threads: 2).logits(inputs)
        let single = try ClassifierEvaluation.Runner(compressedFolder: folder, threads: 1).logits(inputs)
        let double = try ClassifierEvaluation.Runner(compressedFolder: folder, threads: 2).logits(inputs)
        #expect(single.values.map(\.bitPattern) == double.values.map(\.bitPattern), "integer logits depend on the thread count")
        let plan = try IntegerConvolutionPlanner.plan(graph: classifier.graph, model: try CompressedModel(folder: folder),
                                                      activationEncodings: try ClassifierExport.activationEncodings(of: folder))
        return (quantSim.values, single.values, plan, quantSim.classes)
    }

    static func relativeDifference(_ reference: [Float], _ other: [Float]) -> Float {
        let difference = zip(reference, other).map { abs($0 - $1) }.max() ?? 0
        return difference / max(reference.map { abs($0) }.max() ?? 0, .leastNormalMagnitude)
    }

    static func folder(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("intconv-\(name)-\(getpid())")
    }

    @Test func syntheticW8A8RunsOnIntegerKernelsLikeItsQuantSim() throws {
        let root = Self.folder("w8a8")
        defer { try? FileManager.default.removeItem(at: root) }
        let model = try Self.exportSynthetic(try Self.recipe(bits: 8, activations: .int8), to: root.path)
        let (quantSim, integer, plan, _) = try Self.compare(folder: root.path, inputs: Self.inputs(model.evaluation))
        let kinds = plan.convolutions.values.map(\.kernelName)
        #expect(kinds.contains("w8a8 im2col") && kinds.contains("w8a8 depthwise"), "\(plan.notes)")
        // The stem reads the image (no activation encoding): weight-only.
        #expect(plan.convolutions["stem.conv"]?.kernelName == "w8 weight-only im2col")
        #expect(plan.convolutions.count == 10 && plan.floatFallbacks.isEmpty, "\(plan.notes)")
        let difference = Self.relativeDifference(quantSim, integer)
        print("synthetic W8A8: max |Δlogit| / max |logit| = \(difference); \(plan.notes)")
        #expect(difference <= Self.logitTolerance)
    }

    /// Float activations: every quantized layer on a weight-only kernel. The compressed format
    /// packs 4-bit weights along the stored last axis, which must be even, so at 4 bits the
    /// stem (3 input channels) and the depthwise convolutions (1) keep float weights.
    @Test(arguments: [8, 4])
    func syntheticWeightOnlyRunsOnIntegerKernelsLikeItsQuantSim(bits: Int) throws {
        let root = Self.folder("w\(bits)")
        defer { try? FileManager.default.removeItem(at: root) }
        var recipe = try Self.recipe(bits: bits, activations: .float)
        if bits == 4 { recipe.keepWeightsFloat = ["stem.**", "**depthwise**"] }
        let model = try Self.exportSynthetic(recipe, to: root.path)
        let (quantSim, integer, plan, _) = try Self.compare(folder: root.path, inputs: Self.inputs(model.evaluation))
        let expected: Set<String> = bits == 4 ? ["w4 weight-only im2col"] : ["w8 weight-only im2col", "int8 weight-only depthwise"]
        #expect(Set(plan.convolutions.values.map(\.kernelName)) == expected, "\(plan.notes)")
        #expect(plan.convolutions.count == (bits == 4 ? 6 : 10))
        let difference = Self.relativeDifference(quantSim, integer)
        print("synthetic W\(bits) weight-only: max |Δlogit| / max |logit| = \(difference)")
        // No activation quantizers: only fp32 summation order differs.
        #expect(difference <= 1e-4)
    }

    @Test func ferRunsOnIntegerKernelsLikeItsQuantSim() throws {
        let classifier = try ImageClassifier.load(path: KerasClassifierFlowTests.ferPath, architecture: nil)
        let calibration = try ClassifierPipelineTests.inputs(.calibration, itemsPerPhoto: 2, classifier: classifier)
        let evaluation = try ClassifierPipelineTests.inputs(.evaluation, itemsPerPhoto: 2, classifier: classifier)
        let calibrated = try ClassifierCalibration.calibrate(classifier, inputs: calibration, source: "split",
                                                             recipe: try Self.recipe(bits: 8, activations: .int8),
                                                             techniques: .init(foldsBatchNorms: true), threads: 2)
        let root = Self.folder("fer")
        defer { try? FileManager.default.removeItem(at: root) }
        try ClassifierExport.export(calibrated, to: root.path)
        let (quantSim, integer, plan, classes) = try Self.compare(folder: root.path, inputs: evaluation)
        #expect(plan.convolutions.values.contains { $0.kernelName == "w8a8 im2col" }, "\(plan.notes)")
        let difference = Self.relativeDifference(quantSim, integer)
        let agreement = try ClassificationAgreement.measure(referenceLogits: quantSim, candidateLogits: integer, classes: classes)
        print("fer W8A8: \(evaluation.count) inputs, max |Δlogit| / max |logit| = \(difference), top-1 agreement with QuantSim \(agreement.top1Agreement); \(plan.notes)")
        #expect(difference <= Self.logitTolerance)
        #expect(agreement.top1Agreement >= 0.95)
    }
}

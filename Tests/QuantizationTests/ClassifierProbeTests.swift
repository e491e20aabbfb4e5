import AimetTestSupport
import Foundation
import ModelGraph
import ModelIO
import QuantCore
@testable import Quantization
@testable import Runtime
import Testing

/// Exploration harness (enabled by CNN_PROBE): measures variants given in CNN_PROBE as
/// `label:key=value,...;label:...` against the fp32 model.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["CNN_PROBE"] != nil))
struct ClassifierProbeTests {
    static func option(_ spec: [String: String], _ key: String, _ fallback: String) -> String { spec[key] ?? fallback }

    @Test func probe() throws {
        let environment = ProcessInfo.processInfo.environment
        let arch = environment["CNN_ARCH"] ?? "mobilenet_v2"
        let path = arch == "mobilenet_v2" ? ClassifierPipelineTests.mobileNetPath
            : TestLocations.cached(environment["CNN_MODEL"] ?? "")
        let classifier = try ImageClassifier.load(path: path, architecture: arch)
        let calibrationCount = Int(environment["CNN_CALIB"] ?? "4")!
        let calibration = try ClassifierPipelineTests.inputs(.calibration, itemsPerPhoto: calibrationCount, classifier: classifier)
        let evaluation: [NamedTensor]
        if let count = environment["CNN_EVAL"].flatMap(Int.init) {
            evaluation = try ClassifierPipelineTests.inputs(.evaluation, itemsPerPhoto: count, classifier: classifier)
        } else {
            let used = Set(calibration.map(\.name))
            let all = try ClassifierPipelineTests.inputs(.calibration, itemsPerPhoto: Int(environment["CNN_TUNE"] ?? "16")!, classifier: classifier)
            evaluation = all.filter { !used.contains($0.name) }
        }
        let reference = ClassifierEvaluation.Runner(classifier)
        let expected = try reference.logits(evaluation)
        var rows: [String] = []
        for variant in environment["CNN_PROBE"]!.split(separator: ";") {
            let parts = variant.split(separator: ":", maxSplits: 1)
            var spec: [String: String] = [:]
            if parts.count > 1 {
                for pair in parts[1].split(separator: ",") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    spec[String(kv[0])] = kv.count > 1 ? String(kv[1]) : "1"
                }
            }
            let start = Date()
            let (runner, inputs) = try build(classifier: classifier, spec: spec, calibration: calibration, evaluation: evaluation)
            let actual = try runner.logits(inputs)
            let agreement = try ClassificationAgreement.measure(referenceLogits: expected.values, candidateLogits: actual.values,
                                                                classes: expected.classes)
            let line = String(format: "PROBE %@ top1 %.4f top5 %.4f KL %.4f (%d inputs, %.0f s)", String(parts[0]),
                              agreement.top1Agreement, agreement.top5Agreement, agreement.meanKLDivergence, inputs.count,
                              Date().timeIntervalSince(start))
            FileHandle.standardError.write(Data((line + "\n").utf8))
            rows.append(String(format: "| %@ | `%@` | %.1f%% | %.1f%% | %.3f |", String(parts[0]), parts.count > 1 ? String(parts[1]) : "defaults",
                               100 * agreement.top1Agreement, 100 * agreement.top5Agreement, agreement.meanKLDivergence))
        }
        if let path = environment["CNN_REPORT"] {
            let text = "# \(arch) W8A8 (written by ClassifierProbeTests)\n\nCalibration: \(calibration.count) views of the calibration photos; "
                + "evaluation: \(evaluation.count) views (\(environment["CNN_EVAL"].map { "evaluation photos, \($0) per photo" } ?? "held-out views of the calibration photos")). "
                + "Agreement with the original fp32 model.\n\n| variant | spec | top-1 | top-5 | mean KL |\n|---|---|---|---|---|\n"
                + rows.joined(separator: "\n") + "\n"
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }
        #expect(rows.count == environment["CNN_PROBE"]!.split(separator: ";").count)
    }

    func build(classifier: ImageClassifier, spec: [String: String], calibration: [NamedTensor],
               evaluation: [NamedTensor]) throws -> (ClassifierEvaluation.Runner, [NamedTensor]) {
        let o = { (key: String, fallback: String) in Self.option(spec, key, fallback) }
        if o("relu", "0") == "1" {
            var graph = CrossLayerEqualization.replacingReLU6(in: classifier.graph).0
            if o("cle", "0") == "1" {
                let (folded, report) = try BatchNormFolding.fold(graph)
                graph = try CrossLayerEqualization.equalize(folded, foldedBatchNorms: report.folded).0
            }
            return (ClassifierEvaluation.Runner(ImageClassifier(path: "relu", weightsPath: classifier.weightsPath, graph: graph,
                inputName: classifier.inputName, preprocessingName: classifier.preprocessingName,
                preprocessing: classifier.preprocessing, notes: [])), evaluation)
        }
        let granularity: Granularity = o("g", "pt") == "pc" ? .perChannel(axis: 0) : .perTensor
        func estimator(_ text: String) throws -> RangeEstimator {
            text.hasPrefix("p") ? .percentile(Double(text.dropFirst())!) : try RangeEstimator(parsing: text)
        }
        var recipe = QuantizationRecipe(weights: try QuantScheme(bits: 8, symmetry: .symmetric, granularity: granularity),
                                        weightEstimator: try estimator(o("w", "minmax")),
                                        activations: .int8, activationSymmetry: o("s", "asym") == "sym" ? .symmetric : .asymmetric,
                                        activationEstimator: try estimator(o("a", "sqnr")))
        recipe.sixteenBitThreshold = nil
        recipe.keepFloat = []
        var equalization = CrossLayerEqualization.Options()
        equalization.absorbsHighBias = o("hba", "1") == "1"
        equalization.absorbsIntoPaddedLayers = o("padded", "1") == "1"
        let techniques = ClassifierCalibration.Techniques(foldsBatchNorms: true, equalizes: o("cle", "1") == "1",
                                                          correctsBias: o("bc", "1") == "1", equalization: equalization)
        let calibrated = try ClassifierCalibration.calibrate(classifier, inputs: calibration, source: "split", recipe: recipe,
                                                             techniques: techniques)
        let quantizes = o("q", "wa")
        let graph = quantizes.contains("w")
            ? try QuantizationSimulator.applyingWeightEncodings(calibrated.result.weightEncodings, to: calibrated.graph) : calibrated.graph
        let simulated = ImageClassifier(path: "probe", weightsPath: classifier.weightsPath, graph: graph,
                                        inputName: classifier.inputName, preprocessingName: classifier.preprocessingName,
                                        preprocessing: classifier.preprocessing, notes: [])
        var inputs = evaluation
        if o("in", "0") == "1" {
            var observer = try RangeObserver(tensorName: "input")
            for input in calibration { try observer.observe(input.tensor) }
            let encoding = try observer.encoding(scheme: try QuantScheme(bits: 8, symmetry: .asymmetric, granularity: .perTensor),
                                                 estimator: try estimator(o("ina", "minmax")))
            inputs = try evaluation.map { NamedTensor(name: $0.name, tensor: try Quantizer.fakeQuantize($0.tensor, with: encoding)) }
        }
        let encodings = quantizes.contains("a") ? calibrated.result.activationEncodings : [:]
        return (ClassifierEvaluation.Runner(simulated, activationEncodings: encodings), inputs)
    }
}

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
        if let folder = environment["CNN_DUMP"] {
            // The exact views as raw little-endian float32 NHWC (for peer tools such as AIMET).
            for (name, views) in [("calibration", calibration), ("evaluation", evaluation)] {
                var data = Data()
                for view in views { view.tensor.scalars.withUnsafeBytes { data.append(contentsOf: $0) } }
                try data.write(to: URL(fileURLWithPath: "\(folder)/\(name).f32"))
                let shape = ([views.count] + views[0].tensor.shape.dropFirst()).map(String.init).joined(separator: " ")
                try Data((shape + "\n" + views.map(\.name).joined(separator: "\n") + "\n").utf8)
                    .write(to: URL(fileURLWithPath: "\(folder)/\(name).txt"))
            }
            var logits = Data()
            expected.values.withUnsafeBytes { logits.append(contentsOf: $0) }
            try logits.write(to: URL(fileURLWithPath: "\(folder)/evaluation-logits.f32"))
        }
        if environment["CNN_MARGINS"] != nil {
            var margins: [(Float, Float, String)] = []
            for index in 0..<evaluation.count {
                let row = Array(expected.values[(index * expected.classes)..<((index + 1) * expected.classes)])
                let sorted = row.sorted(by: >)
                let maximum = sorted[0]
                let total = row.reduce(Float(0)) { $0 + exp($1 - maximum) }
                margins.append((sorted[0] - sorted[1], 1 / total, evaluation[index].name))
            }
            margins.sort { $0.0 < $1.0 }
            for (margin, probability, name) in margins {
                FileHandle.standardError.write(Data(String(format: "MARGIN %.4f p1 %.3f %@\n", margin, probability, name).utf8))
            }
        }
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
            let line = String(format: "PROBE %@ top1 %.4f top5 %.4f KL %.4f decided %.4f of %d (%d inputs, %.0f s)", String(parts[0]),
                              agreement.top1Agreement, agreement.top5Agreement, agreement.meanKLDivergence,
                              agreement.decidedTop1Agreement, agreement.decidedCount, inputs.count,
                              Date().timeIntervalSince(start))
            FileHandle.standardError.write(Data((line + "\n").utf8))
            rows.append(String(format: "| %@ | `%@` | %.1f%% | %.1f%% | %.3f |", String(parts[0]), parts.count > 1 ? String(parts[1]) : "defaults",
                               100 * agreement.top1Agreement, 100 * agreement.top5Agreement, agreement.meanKLDivergence))
        }
        if let sensitivity = environment["CNN_SENS"] {
            try sensitivityProbe(classifier: classifier, spec: Self.parse(sensitivity), calibration: calibration, evaluation: evaluation)
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

    static func parse(_ text: String) -> [String: String] {
        var spec: [String: String] = [:]
        for pair in text.split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            spec[String(kv[0])] = kv.count > 1 ? String(kv[1]) : "1"
        }
        return spec
    }

    /// Each activation quantizer alone (and the weight-quantized model without any) against fp32.
    func sensitivityProbe(classifier: ImageClassifier, spec: [String: String], calibration: [NamedTensor],
                          evaluation: [NamedTensor]) throws {
        let (runner, _) = try build(classifier: classifier, spec: spec, calibration: calibration, evaluation: evaluation)
        let expected = try ClassifierEvaluation.Runner(classifier).logits(evaluation)
        let encodings = runner.tap?.encodings ?? [:]
        func measure(_ chosen: [String: Encoding]) throws -> ClassificationAgreement {
            let single = ClassifierEvaluation.Runner(runner.classifier, activationEncodings: chosen)
            let actual = try single.logits(evaluation)
            return try ClassificationAgreement.measure(referenceLogits: expected.values, candidateLogits: actual.values,
                                                       classes: expected.classes)
        }
        let base = try measure([:])
        var lines: [(Double, String)] = []
        for (node, encoding) in encodings {
            let alone = try measure([node: encoding])
            let range = encoding.scales.count == 1
                ? String(format: "[%.3f, %.3f]", Double(encoding.scheme.quantizedRange.lowerBound - encoding.zeroPoints[0]) * Double(encoding.scales[0]),
                         Double(encoding.scheme.quantizedRange.upperBound - encoding.zeroPoints[0]) * Double(encoding.scales[0]))
                : "per-channel"
            lines.append((alone.meanKLDivergence, String(format: "SENS %@ KL %.4f top1 %.3f range %@", node, alone.meanKLDivergence,
                                                         alone.top1Agreement, range)))
        }
        if spec["wsens"] == "1" {
            let calibrated = try ClassifierCalibration.calibrate(classifier, inputs: calibration, source: "split",
                                                                 recipe: try Self.recipe(spec), techniques: Self.techniques(spec))
            var weightLines: [(Double, String)] = []
            for (tensor, encoding) in calibrated.result.weightEncodings {
                let graph = try QuantizationSimulator.applyingWeightEncodings([tensor: encoding], to: calibrated.graph)
                let single = ClassifierEvaluation.Runner(ImageClassifier(path: "w", weightsPath: classifier.weightsPath, graph: graph,
                    inputName: classifier.inputName, preprocessingName: classifier.preprocessingName,
                    preprocessing: classifier.preprocessing, notes: []))
                let actual = try single.logits(evaluation)
                let alone = try ClassificationAgreement.measure(referenceLogits: expected.values, candidateLogits: actual.values,
                                                                classes: expected.classes)
                weightLines.append((alone.meanKLDivergence, String(format: "WSENS %@ KL %.4f top1 %.3f scales %d %@", tensor,
                    alone.meanKLDivergence, alone.top1Agreement, encoding.scales.count, "\(encoding.scheme.granularity)")))
            }
            let unquantized = ClassifierEvaluation.Runner(ImageClassifier(path: "w", weightsPath: classifier.weightsPath, graph: calibrated.graph,
                inputName: classifier.inputName, preprocessingName: classifier.preprocessingName,
                preprocessing: classifier.preprocessing, notes: []))
            let none = try ClassificationAgreement.measure(referenceLogits: expected.values,
                candidateLogits: try unquantized.logits(evaluation).values, classes: expected.classes)
            var weightText = String(format: "WSENS calibrated graph unquantized: KL %.5f top1 %.3f\n", none.meanKLDivergence, none.top1Agreement)
            for line in weightLines.sorted(by: { $0.0 > $1.0 }).prefix(25) { weightText += line.1 + "\n" }
            FileHandle.standardError.write(Data(weightText.utf8))
        }
        var text = String(format: "SENS weights only: KL %.4f top1 %.3f; %d quantizers\n", base.meanKLDivergence, base.top1Agreement, encodings.count)
        for line in lines.sorted(by: { $0.0 > $1.0 }) { text += line.1 + "\n" }
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func estimator(_ text: String) throws -> RangeEstimator {
        text.hasPrefix("p") ? .percentile(Double(text.dropFirst())!) : try RangeEstimator(parsing: text)
    }

    static func recipe(_ spec: [String: String]) throws -> QuantizationRecipe {
        let o = { (key: String, fallback: String) in Self.option(spec, key, fallback) }
        let granularity: Granularity = o("g", "pt") == "pc" ? .perChannel(axis: 0) : .perTensor
        var recipe = QuantizationRecipe(weights: try QuantScheme(bits: Int(o("wb", "8"))!, symmetry: .symmetric, granularity: granularity),
                                        weightEstimator: try estimator(o("w", "minmax")),
                                        activations: .int8, activationSymmetry: o("s", "asym") == "sym" ? .symmetric : .asymmetric,
                                        activationEstimator: try estimator(o("a", "sqnr")))
        recipe.sixteenBitThreshold = spec["t16"].flatMap(Double.init)
        recipe.sensitivityProbes = Int(o("probes", "16"))!
        recipe.keepFloat = spec["float"].map { $0.split(separator: "+").map(String.init) } ?? []
        return recipe
    }

    static func techniques(_ spec: [String: String]) -> ClassifierCalibration.Techniques {
        let o = { (key: String, fallback: String) in Self.option(spec, key, fallback) }
        var equalization = CrossLayerEqualization.Options()
        equalization.absorbsHighBias = o("hba", "1") == "1"
        equalization.absorbsIntoPaddedLayers = o("padded", "0") == "1"
        equalization.replacesReLU6 = o("r6", "keep") == "replace"
        var techniques = ClassifierCalibration.Techniques(foldsBatchNorms: true, equalizes: o("cle", "1") == "1",
                                                          correctsBias: o("bc", "1") == "1", equalization: equalization)
        techniques.searchesWeightRanges = o("sm", "0") == "1"
        if let iterations = spec["ada"].flatMap(Int.init) {
            techniques.adaRounds = true
            techniques.adaRoundIterations = iterations
        }
        return techniques
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
        let recipe = try Self.recipe(spec)
        let techniques = Self.techniques(spec)
        let calibrated = try ClassifierCalibration.calibrate(classifier, inputs: calibration, source: "split", recipe: recipe,
                                                             techniques: techniques)
        for note in calibrated.result.notes where note.contains("16 bits") {
            FileHandle.standardError.write(Data("NOTE \(note)\n".utf8))
        }
        let quantizes = o("q", "wa")   // "" (q=none): the rewritten graph unquantized
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
                                                 estimator: try Self.estimator(o("ina", "minmax")))
            inputs = try evaluation.map { NamedTensor(name: $0.name, tensor: try Quantizer.fakeQuantize($0.tensor, with: encoding)) }
        }
        let encodings = quantizes.contains("a") ? calibrated.result.activationEncodings : [:]
        return (ClassifierEvaluation.Runner(simulated, activationEncodings: encodings), inputs)
    }
}

import Foundation
import ModelGraph
import ModelIO
import QuantCore
import Runtime

/// Calibrates an image classifier: the graph techniques (batch-norm folding, cross-layer
/// equalization with high-bias absorption, bias correction) rewrite the graph, then
/// `GraphCalibrator` computes the encodings of the rewritten graph. The result keeps the
/// rewritten graph, because its weights are no longer the checkpoint's.
public struct ClassifierCalibration: Sendable {
    /// The graph techniques to apply, in the fixed order fold → equalize → sequential MSE →
    /// AdaRound → calibrate → correct.
    public struct Techniques: Sendable, Equatable {
        public var foldsBatchNorms: Bool
        public var equalizes: Bool
        public var correctsBias: Bool
        /// Options of cross-layer equalization (ReLU6 replacement, high-bias absorption).
        public var equalization: CrossLayerEqualization.Options
        /// AdaRound on the conv and linear layers after folding / equalization, before the
        /// activation calibration (`ClassifierAdaRound`); iterations per layer: this, else the
        /// recipe's, else AIMET's default.
        public var adaRounds = false
        public var adaRoundIterations: Int?
        /// Sequential MSE (`SequentialMSE`) chooses the weight encodings on the calibration
        /// images after folding / equalization, before AdaRound (which rounds on its grids).
        public var searchesWeightRanges = false

        public init(foldsBatchNorms: Bool = false, equalizes: Bool = false, correctsBias: Bool = false,
                    equalization: CrossLayerEqualization.Options = .init()) {
            self.foldsBatchNorms = foldsBatchNorms
            self.equalizes = equalizes
            self.correctsBias = correctsBias
            self.equalization = equalization
        }
    }

    /// Encodings, recipe and notes (`calibration.json`).
    public var result: CalibrationResult
    /// The graph the encodings belong to (after folding / equalization / correction).
    public var graph: Graph
    /// The classifier it came from.
    public var classifierInput: String
    public var preprocessingName: String

    /// File names inside a calibration folder for classifiers.
    public static let graphWeightsFileName = "graph-weights.safetensors"

    /// Runs the techniques and the calibration on `inputs` (named preprocessed images).
    public static func calibrate(_ classifier: ImageClassifier, inputs: [NamedTensor], source: String,
                                 recipe: QuantizationRecipe, techniques: Techniques, threads: Int = ProcessInfoCores.active,
                                 progress: Calibrator.Progress? = nil,
                                 adaRoundProgress: AdaRoundModel.Progress? = nil) throws -> ClassifierCalibration {
        guard !inputs.isEmpty else { throw QuantizationPipelineError.emptyCalibrationSet(path: source) }
        var graph = classifier.graph
        var notes = classifier.notes
        var foldedBatchNorms: [FoldedBatchNorm] = []
        if techniques.foldsBatchNorms || techniques.equalizes {
            let (folded, report) = try BatchNormFolding.fold(graph)
            graph = folded
            foldedBatchNorms = report.folded
            notes += report.lines
            if !techniques.foldsBatchNorms { notes.append("cross-layer equalization folds batch norms first (as AIMET does)") }
        }
        let feeds = classifier.feeds(inputs)
        var equalizes = techniques.equalizes
        if equalizes, techniques.equalization.replacesReLU6 {
            // AIMET's CLE puts ReLU in place of ReLU6; a model that relies on the clipping would
            // be changed more by that than quantization changes it (top-1 agreement of the fp32
            // model with its ReLU variant, measured: EfficientNet-Lite0 33.8%, MobileNetV2
            // 92–97.5%). The default CLE keeps ReLU6 exact and needs no such check.
            let agreement = try Self.reLU6ReplacementAgreement(graph: graph, feeds: feeds, threads: threads)
            if agreement < Self.minimumReLU6ReplacementAgreement {
                equalizes = false
                notes.append(String(format: "cross-layer equalization skipped: replacing ReLU6 by ReLU, which it needs, leaves the fp32 model's "
                                    + "top class unchanged on only %.1f%% of the calibration inputs (at least %.0f%% required)",
                                    100 * agreement, 100 * Self.minimumReLU6ReplacementAgreement))
            }
        }
        if equalizes {
            let (equalized, report) = try CrossLayerEqualization.equalize(graph, foldedBatchNorms: foldedBatchNorms,
                                                                          options: techniques.equalization)
            graph = equalized
            notes += report.lines
        }
        // Encodings chosen by a technique, kept by every later calibration of the same weights.
        var pinned: [String: Encoding] = [:]
        var sequentialMSE: SequentialMSE.Result?
        if techniques.searchesWeightRanges {
            let plan = try QuantizationPlan(graph: graph, recipe: recipe)
            let result = try SequentialMSE.apply(graph: graph, targets: plan.weights,
                                                 encodings: try Calibrator.encodeWeights(plan: plan, graph: graph),
                                                 parameters: SequentialMSEParameters(seed: recipe.seed), threads: threads, feeds: feeds)
            notes += result.notes + [result.summary]
            for layer in result.layers { pinned[layer.tensor] = result.encodings[layer.tensor] }
            sequentialMSE = result
        }
        var adaRound: ClassifierAdaRound.Outcome?
        if techniques.adaRounds {
            let outcome = try ClassifierAdaRound.run(graph: graph, feeds: feeds, recipe: recipe,
                                                     iterations: techniques.adaRoundIterations ?? recipe.adaroundIterations,
                                                     threads: threads, pinned: pinned, progress: adaRoundProgress)
            graph = outcome.graph
            notes += outcome.notes
            for tensor in outcome.adjustedWeights.keys { pinned[tensor] = outcome.weightEncodings[tensor] }
            adaRound = outcome
        }
        var outcome = try GraphCalibrator.calibrate(graph: graph, feeds: feeds, recipe: recipe, source: source,
                                                    threads: threads, pinned: pinned, progress: progress)
        if techniques.correctsBias {
            let (corrected, report) = try BiasCorrection.correct(graph, weightEncodings: outcome.weightEncodings,
                                                                 activationEncodings: outcome.activationEncodings,
                                                                 runner: BiasCorrection.runner(inputs: feeds, threads: threads))
            graph = corrected
            notes += report.lines
            // Corrected biases move the activation ranges a little: calibrate them again (the
            // sensitivity analysis, if any, stands: bias correction made the model closer).
            outcome = try GraphCalibrator.calibrate(graph: graph, feeds: feeds, recipe: recipe, source: source, threads: threads,
                                                    pinned: pinned, promoting: outcome.promoted)
        }
        let result = CalibrationResult(modelPath: classifier.path, sourceSHA256: try SHA256.hexDigest(ofFile: classifier.weightsPath),
                                       recipe: recipe, weightEncodings: outcome.weightEncodings,
                                       activationEncodings: outcome.activationEncodings, sampleCount: inputs.count,
                                       notes: outcome.notes + notes, adjustedWeights: adaRound?.adjustedWeights ?? [:],
                                       adaRoundLayers: adaRound?.layers, sequentialMSELayers: sequentialMSE?.layers)
        return ClassifierCalibration(result: result, graph: graph, classifierInput: classifier.inputName,
                                     preprocessingName: classifier.preprocessingName)
    }

    /// The least top-1 agreement, on the calibration inputs, between the fp32 model and the same
    /// model with ReLU6 replaced by ReLU, for cross-layer equalization to go ahead.
    public static let minimumReLU6ReplacementAgreement = 0.75

    /// Top-1 agreement of `graph` with its ReLU6 → ReLU variant on `feeds` (1 when it has no ReLU6).
    static func reLU6ReplacementAgreement(graph: Graph, feeds: [[String: Tensor]], threads: Int) throws -> Double {
        let (replaced, names) = CrossLayerEqualization.replacingReLU6(in: graph)
        guard !names.isEmpty else { return 1 }
        let original = GraphExecutor(graph: graph, threads: threads), variant = GraphExecutor(graph: replaced, threads: threads)
        var reference: [Float] = [], candidate: [Float] = []
        var classes = 0
        for feed in feeds {
            let expected = try original.run(inputs: feed)[0], actual = try variant.run(inputs: feed)[0]
            classes = expected.shape.last ?? 0
            reference += expected.scalars
            candidate += actual.scalars
        }
        guard classes > 0 else { return 1 }
        return try ClassificationAgreement.measure(referenceLogits: reference, candidateLogits: candidate, classes: classes).top1Agreement
    }

    /// Writes `calibration.json`, `graph.json`, `classifier.json` and the rewritten graph's
    /// parameters into `folder`.
    public func write(toFolder folder: String) throws {
        try result.write(toFolder: folder)
        let base = URL(fileURLWithPath: folder)
        let files = try ClassifierFiles.describing(graph: graph, input: classifierInput, preprocessing: preprocessingName,
                                                   source: result.modelPath)
        for (name, bytes) in files.sorted(by: { $0.key < $1.key }) {
            try AtomicFile.write(Data(bytes), to: base.appendingPathComponent(name).path)
        }
        try SafetensorsWriter.write(ClassifierFiles.parameterTensors(of: graph).map { RawTensor(name: $0.name, tensor: $0.tensor) }, metadata: ["source_sha256": result.sourceSHA256],
                                    to: base.appendingPathComponent(Self.graphWeightsFileName).path)
    }

    /// Reads a folder written by `write(toFolder:)`, or nil when `folder` holds a calibration
    /// of another kind of model (no `graph.json`).
    public static func read(fromFolder folder: String) throws -> ClassifierCalibration? {
        let base = URL(fileURLWithPath: folder)
        guard FileManager.default.fileExists(atPath: base.appendingPathComponent(GraphDescription.fileName).path) else { return nil }
        let result = try CalibrationResult.read(fromFolder: folder)
        let weightsPath = base.appendingPathComponent(graphWeightsFileName).path
        let store = try SafetensorsStore(path: weightsPath)
        guard store.userMetadata["source_sha256"] == result.sourceSHA256 else {
            throw QuantizationPipelineError.invalidCalibration(path: weightsPath, reason: "the graph weights belong to another source model")
        }
        let description = try ClassifierFiles.readDescription(folder: folder)
        let graph = try description.graph.graph(weights: store)
        return ClassifierCalibration(result: result, graph: graph, classifierInput: description.classifier.input,
                                     preprocessingName: description.classifier.preprocessing)
    }
}

/// The files that describe a classifier beside its weights: `graph.json` and `classifier.json`.
enum ClassifierFiles {
    static func describing(graph: Graph, input: String, preprocessing: String, source: String) throws -> [String: [UInt8]] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return [
            GraphDescription.fileName: Array(try encoder.encode(try GraphDescription(graph))),
            ImageClassifier.descriptionFileName: Array(try encoder.encode(
                ImageClassifier.Description(input: input, preprocessing: preprocessing, source: source))),
        ]
    }

    static func readDescription(folder: String) throws -> (graph: GraphDescription, classifier: ImageClassifier.Description) {
        let base = URL(fileURLWithPath: folder)
        let graphFile = try MappedFile(path: base.appendingPathComponent(GraphDescription.fileName).path)
        let descriptionFile = try MappedFile(path: base.appendingPathComponent(ImageClassifier.descriptionFileName).path)
        do {
            return (try JSONDecoder().decode(GraphDescription.self, from: Data(graphFile.bytes)),
                    try JSONDecoder().decode(ImageClassifier.Description.self, from: Data(descriptionFile.bytes)))
        } catch {
            throw QuantizationPipelineError.invalidModel(path: folder, reason: "graph.json / classifier.json: \(error)")
        }
    }

    /// Every parameter of `graph` under its checkpoint name, sorted by name.
    static func parameterTensors(of graph: Graph) throws -> [(name: String, tensor: Tensor)] {
        var tensors: [String: Tensor] = [:]
        for node in graph.nodes {
            for (role, tensor) in node.parameters {
                guard let name = node.parameterSources[role] else {
                    throw ModelGraphError.invalidGraph(node: node.name, reason: "parameter '\(role)' has no checkpoint name")
                }
                tensors[name] = tensor
            }
        }
        return tensors.keys.sorted().map { ($0, tensors[$0]!) }
    }
}

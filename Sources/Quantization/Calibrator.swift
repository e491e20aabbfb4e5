import Foundation
import ModelGraph
import ModelIO
import QuantCore
import Runtime

/// Collects activation statistics for the planned quantizers (pass-through: it observes
/// and never changes the output).
final class StatisticsTap: ActivationTap, @unchecked Sendable {
    var observers: [String: RangeObserver]
    var failure: Error?

    init(targets: [QuantizationPlan.ActivationTarget]) throws {
        var observers: [String: RangeObserver] = [:]
        for target in targets {
            observers[target.node] = try RangeObserver(tensorName: target.node, granularity: .perTensor)
        }
        self.observers = observers
    }

    func nodeDidRun(_ node: Node, output: inout Tensor) {
        guard failure == nil, observers[node.name] != nil else { return }
        do {
            try observers[node.name]!.observe(output)
        } catch {
            failure = error
        }
    }
}

/// Computes the encodings of a recipe for a model from calibration inputs: weight encodings
/// from the weights themselves, then activation encodings from statistics gathered while the
/// calibration inputs run through the model with its weights already fake-quantized (so the
/// activation ranges are those the quantized model will see).
public enum Calibrator {
    /// Progress callback: (inputs done, inputs in total).
    public typealias Progress = (Int, Int) -> Void

    /// Calibrates the sentence-embedding model in `modelFolder` on `prompts`. With
    /// `.sequentialMSE` among the recipe's techniques, the linear layers' weight ranges are
    /// chosen on the prompts first (`SequentialMSE`); with `.adaround`, their rounding is then
    /// learned on those grids (`AdaRoundModel`, reporting each layer to `adaRoundProgress`), and
    /// the activation statistics are gathered on the resulting weights.
    public static func calibrate(modelFolder: String, prompts: [String], recipe: QuantizationRecipe,
                                 promptsPath: String = "prompts", progress: Progress? = nil,
                                 adaRoundProgress: AdaRoundModel.Progress? = nil) throws -> CalibrationResult {
        guard !prompts.isEmpty else { throw QuantizationPipelineError.emptyCalibrationSet(path: promptsPath) }
        if let unsupported = recipe.techniques.first(where: { $0 != .adaround && $0 != .sequentialMSE }) {
            throw QuantizationPipelineError.unsupportedTechnique(
                technique: unsupported.rawValue, model: modelFolder,
                reason: "text models take seq-mse and adaround; bn-fold, cle and bias-correction are for image classifiers")
        }
        let model = try HuggingFaceModel(path: modelFolder)
        let tokenizer = try WordPieceTokenizer(modelFolder: modelFolder)
        let maximumLength = min(try WordPieceTokenizer.maximumSequenceLength(modelFolder: modelFolder),
                                model.configuration.maximumPositions)
        let plan = try QuantizationPlan(graph: model.graph, recipe: recipe)
        var weightEncodings = try encodeWeights(plan: plan, graph: model.graph)
        var techniqueNotes: [String] = []
        var adjustedWeights: [String: Tensor] = [:]
        var adaRoundLayers: [AdaRoundLayerReport]?
        var sequentialMSELayers: [SequentialMSELayerReport]?
        let runSamples: AdaRoundModel.SampleRunner = { executor, tap in
            // One sentence per run, so every sample is one sentence's token rows, unpadded.
            let embedder = SentenceEmbedder(model: model, tokenizer: tokenizer, maximumLength: maximumLength, executor: executor)
            for prompt in prompts { _ = try embedder.embed([prompt], batchSize: 1, tap: tap) }
        }
        if recipe.techniques.contains(.sequentialMSE) {
            let result = try SequentialMSE.apply(graph: model.graph, targets: plan.weights, encodings: weightEncodings,
                                                 parameters: SequentialMSEParameters(seed: recipe.seed), runSamples: runSamples)
            weightEncodings = result.encodings
            sequentialMSELayers = result.layers
            techniqueNotes += result.notes + [result.summary]
        }
        if recipe.techniques.contains(.adaround) {
            let result = try AdaRoundModel.apply(
                graph: model.graph, targets: plan.weights, encodings: weightEncodings, iterations: recipe.adaroundIterations,
                parameters: recipe.adaRoundParameters, runSamples: runSamples, progress: adaRoundProgress)
            adjustedWeights = result.weights
            adaRoundLayers = result.layers
            techniqueNotes += result.notes
            let kept = result.layers.filter(\.keptNearest).count
            techniqueNotes.append("AdaRound adjusted \(result.layers.count - kept) linear layers"
                                  + (kept > 0 ? "; \(kept) kept nearest rounding (it reconstructed better)" : ""))
        }
        // The model runs with its weights fake-quantized (QuantSim), AdaRounded ones included.
        var graph = model.graph
        for index in graph.nodes.indices {
            guard let source = graph.nodes[index].parameterSources["weight"], let weight = adjustedWeights[source] else { continue }
            graph.nodes[index].parameters["weight"] = weight
        }
        let simulator = SentenceEmbedder(model: model, tokenizer: tokenizer, maximumLength: maximumLength,
                                         executor: GraphExecutor(graph: try QuantizationSimulator.applyingWeightEncodings(weightEncodings, to: graph)))
        var notes = plan.notes + techniqueNotes
        var activationEncodings: [String: Encoding] = [:]
        var truncated = 0
        if !plan.activations.isEmpty {
            let statistics = try StatisticsTap(targets: plan.activations)
            for (index, prompt) in prompts.enumerated() {
                let result = try simulator.embed([prompt], batchSize: 1, tap: statistics)
                truncated += result.truncatedInputs.count
                if let failure = statistics.failure { throw failure }
                progress?(index + 1, prompts.count)
            }
            for target in plan.activations {
                guard let observer = statistics.observers[target.node] else { continue }
                activationEncodings[target.node] = try observer.encoding(scheme: target.scheme, estimator: target.estimator)
            }
            if let threshold = recipe.sixteenBitThreshold, activationEncodings.values.contains(where: { $0.scheme.bits == 8 }) {
                let analysis = try ActivationSensitivity.analyse(embedder: simulator, encodings: activationEncodings,
                                                                 probes: Array(prompts.prefix(recipe.sensitivityProbes)),
                                                                 threshold: threshold)
                for node in analysis.promoted {
                    guard let target = plan.activations.first(where: { $0.node == node }),
                          let observer = statistics.observers[node] else { continue }
                    let scheme = try QuantScheme(bits: 16, symmetry: target.scheme.symmetry, granularity: target.scheme.granularity)
                    activationEncodings[node] = try observer.encoding(scheme: scheme, estimator: target.estimator)
                }
                if !analysis.promoted.isEmpty {
                    notes.append("\(analysis.promoted.count) activation quantizers moved to 16 bits (alone each cost more than \(threshold) in cosine): "
                                 + analysis.promoted.joined(separator: ", "))
                }
            }
        } else {
            truncated = prompts.filter { simulator.tokenizer.encode($0, maxLength: simulator.maximumLength).wasTruncated }.count
            progress?(prompts.count, prompts.count)
        }
        if truncated > 0 {
            notes.append("\(truncated) calibration input(s) were longer than \(simulator.maximumLength) tokens and were truncated")
        }
        let weightsPath = WeightStores.weightsPath(ofFolder: modelFolder)
        return CalibrationResult(modelPath: modelFolder, sourceSHA256: try SHA256.hexDigest(ofFile: weightsPath), recipe: recipe,
                                 weightEncodings: weightEncodings, activationEncodings: activationEncodings,
                                 sampleCount: prompts.count, notes: notes, adjustedWeights: adjustedWeights,
                                 adaRoundLayers: adaRoundLayers, sequentialMSELayers: sequentialMSELayers)
    }

    /// Encodings of every planned weight, computed from the weight values, except those in
    /// `pinned` (chosen by a technique: sequential MSE, AdaRound's grids), which are used as
    /// they are.
    public static func encodeWeights(plan: QuantizationPlan, graph: Graph, pinned: [String: Encoding] = [:]) throws -> [String: Encoding] {
        var encodings: [String: Encoding] = [:]
        for target in plan.weights {
            guard let node = graph.node(named: target.node), let weight = node.parameters["weight"] else {
                throw QuantizationPipelineError.missingWeight(tensor: target.tensor)
            }
            guard weight.scalars.allSatisfy(\.isFinite) else { throw QuantizationPipelineError.nonFiniteWeight(tensor: target.tensor) }
            encodings[target.tensor] = try pinned[target.tensor]
                ?? target.estimator.encoding(of: weight, scheme: target.scheme, tensorName: target.tensor)
        }
        return encodings
    }
}

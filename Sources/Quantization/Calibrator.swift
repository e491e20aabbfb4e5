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

    /// Calibrates the sentence-embedding model in `modelFolder` on `prompts`.
    public static func calibrate(modelFolder: String, prompts: [String], recipe: QuantizationRecipe,
                                 promptsPath: String = "prompts", progress: Progress? = nil) throws -> CalibrationResult {
        guard !prompts.isEmpty else { throw QuantizationPipelineError.emptyCalibrationSet(path: promptsPath) }
        let embedder = try SentenceEmbedder(modelFolder: modelFolder)
        let plan = try QuantizationPlan(graph: embedder.model.graph, recipe: recipe)
        let weightEncodings = try encodeWeights(plan: plan, graph: embedder.model.graph)
        let simulated = try QuantizationSimulator.applyingWeightEncodings(weightEncodings, to: embedder.model.graph)
        let simulator = SentenceEmbedder(model: embedder.model, tokenizer: embedder.tokenizer, maximumLength: embedder.maximumLength,
                                         executor: GraphExecutor(graph: simulated, threads: embedder.executor.threads))
        var notes = plan.notes
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
            truncated = prompts.filter { embedder.tokenizer.encode($0, maxLength: embedder.maximumLength).wasTruncated }.count
            progress?(prompts.count, prompts.count)
        }
        if truncated > 0 {
            notes.append("\(truncated) calibration input(s) were longer than \(embedder.maximumLength) tokens and were truncated")
        }
        let weightsPath = ModelFolderWeights.path(of: modelFolder)
        return CalibrationResult(modelPath: modelFolder, sourceSHA256: try SHA256.hexDigest(ofFile: weightsPath), recipe: recipe,
                                 weightEncodings: weightEncodings, activationEncodings: activationEncodings,
                                 sampleCount: prompts.count, notes: notes)
    }

    /// Encodings of every planned weight, computed from the weight values.
    public static func encodeWeights(plan: QuantizationPlan, graph: Graph) throws -> [String: Encoding] {
        var encodings: [String: Encoding] = [:]
        for target in plan.weights {
            guard let node = graph.node(named: target.node), let weight = node.parameters["weight"] else {
                throw QuantizationPipelineError.missingWeight(tensor: target.tensor)
            }
            guard weight.scalars.allSatisfy(\.isFinite) else { throw QuantizationPipelineError.nonFiniteWeight(tensor: target.tensor) }
            encodings[target.tensor] = try target.estimator.encoding(of: weight, scheme: target.scheme, tensorName: target.tensor)
        }
        return encodings
    }
}

/// Where a model folder keeps its weights.
public enum ModelFolderWeights {
    /// `model.safetensors`, or the sharded index, inside `folder`.
    public static func path(of folder: String) -> String {
        let index = URL(fileURLWithPath: folder).appendingPathComponent("model.safetensors.index.json").path
        if FileManager.default.fileExists(atPath: index) { return index }
        return URL(fileURLWithPath: folder).appendingPathComponent("model.safetensors").path
    }
}

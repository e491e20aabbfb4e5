import Foundation
import ModelGraph
import ModelIO
import QuantCore
@testable import Quantization
import Runtime
import Testing

/// Exploration harness for MiniLM W4 (enabled by TEXT_PROBE): variants as
/// `label:t=seq-mse+adaround,it=1000,bc=1;label:...`, each calibrated on the first 64
/// calibration prompts (TEXT_SAMPLES) and measured by mean cosine against fp32 on the
/// held-out sentences (TEXT_HELDOUT, default all), weights fake-quantized, activations float.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["TEXT_PROBE"] != nil))
struct TextProbeTests {
    @Test func probe() throws {
        let environment = ProcessInfo.processInfo.environment
        let folder = PipelinePaths.miniLMFolder
        let embedder = try SentenceEmbedder(modelFolder: folder)
        let prompts = try PipelinePaths.prompts(Int(environment["TEXT_SAMPLES"] ?? "64")!)
        // TEXT_VALIDATION=1 judges on calibration prompts 65–275 (a validation split) instead of held-out.
        let heldout = environment["TEXT_VALIDATION"] == "1" ? Array(try PipelinePaths.prompts(275).dropFirst(64))
            : try PipelinePaths.heldout(Int(environment["TEXT_HELDOUT"] ?? "100000")!)
        let reference = try embedder.embed(heldout).embeddings
        for variant in environment["TEXT_PROBE"]!.split(separator: ";") {
            let parts = variant.split(separator: ":", maxSplits: 1)
            let spec = parts.count > 1 ? ClassifierProbeTests.parse(String(parts[1])) : [:]
            let started = Date()
            let techniques = (spec["t"] ?? "").split(separator: "+").compactMap { QuantizationTechnique(rawValue: String($0)) }
            var recipe = QuantizationRecipe(weights: try QuantScheme(bits: Int(spec["w"] ?? "4")!, symmetry: .symmetric,
                                                                     granularity: .perChannel(axis: 0)),
                                            weightEstimator: .mse, activations: .float,
                                            embeddings: QuantizationRecipe.defaultEmbeddingScheme(), techniques: techniques,
                                            adaroundIterations: spec["it"].flatMap(Int.init))
            if let rate = spec["lr"].flatMap(Float.init) { recipe.adaroundLearningRate = rate }
            if spec["sym"] == "0" { recipe.weights = try QuantScheme(bits: recipe.weights.bits, symmetry: .asymmetric, granularity: .perChannel(axis: 0)) }
            if spec["emb"] == "float" { recipe.embeddings = nil }
            let calibration = try Calibrator.calibrate(modelFolder: folder, prompts: prompts, recipe: recipe)
            var graph = embedder.model.graph
            for index in graph.nodes.indices {
                guard let source = graph.nodes[index].parameterSources["weight"], let weight = calibration.adjustedWeights[source] else { continue }
                graph.nodes[index].parameters["weight"] = weight
            }
            if spec["bc"] == "1" {
                let inputs = prompts.map { prompt in
                    SentenceEmbedder.graphInputs(for: [embedder.tokenizer.encode(prompt, maxLength: embedder.maximumLength)],
                                                 paddingID: embedder.tokenizer.paddingID)
                }
                graph = try BiasCorrection.correct(graph, weightEncodings: calibration.weightEncodings,
                                                   runner: BiasCorrection.runner(inputs: inputs)).0
            }
            let quantized = try QuantizationSimulator.applyingWeightEncodings(calibration.weightEncodings, to: graph)
            let candidate = SentenceEmbedder(model: embedder.model, tokenizer: embedder.tokenizer, maximumLength: embedder.maximumLength,
                                             executor: GraphExecutor(graph: quantized))
            let fidelity = try Evaluator.fidelity(reference: reference, candidate: try candidate.embed(heldout).embeddings)
            FileHandle.standardError.write(Data(String(format: "TEXTPROBE %@ mean %.5f p5 %.5f (%d held-out, %.0f s)\n", String(parts[0]),
                                                       fidelity.meanCosine, fidelity.p5Cosine, heldout.count,
                                                       Date().timeIntervalSince(started)).utf8))
        }
    }
}

/// AdaRound's final losses on MiniLM's first layers for several iteration counts
/// (ADAROUND_CURVE="1000,4000,15000"; ADAROUND_LAYERS, default 1).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["ADAROUND_CURVE"] != nil))
struct AdaRoundCurveProbeTests {
    /// MiniLM, its tokenizer, the W4 per-channel (MSE ranges) weight plan and its encodings.
    static func miniLMW4() throws -> (HuggingFaceModel, WordPieceTokenizer, QuantizationPlan, [String: Encoding]) {
        let folder = PipelinePaths.miniLMFolder
        let model = try HuggingFaceModel(path: folder)
        let recipe = QuantizationRecipe(weights: try QuantScheme(bits: 4, symmetry: .symmetric, granularity: .perChannel(axis: 0)),
                                        weightEstimator: .mse, activations: .float, embeddings: nil)
        let plan = try QuantizationPlan(graph: model.graph, recipe: recipe)
        return (model, try WordPieceTokenizer(modelFolder: folder), plan, try Calibrator.encodeWeights(plan: plan, graph: model.graph))
    }

    @Test func curve() throws {
        let environment = ProcessInfo.processInfo.environment
        let (model, tokenizer, plan, encodings) = try Self.miniLMW4()
        let targets = Array(plan.weights.prefix(Int(environment["ADAROUND_LAYERS"] ?? "1")!))
        let prompts = try PipelinePaths.prompts(64)
        for iterations in environment["ADAROUND_CURVE"]!.split(separator: ",").compactMap({ Int($0) }) {
            var parameters = AdaRoundParameters(iterations: 0)
            if let rate = environment["ADAROUND_LR"].flatMap(Float.init) { parameters.learningRate = rate }
            let result = try AdaRoundModel.apply(graph: model.graph, targets: targets, encodings: encodings, iterations: iterations,
                                                 parameters: parameters, runSamples: { executor, tap in
                let embedder = SentenceEmbedder(model: model, tokenizer: tokenizer, maximumLength: 128, executor: executor)
                for prompt in prompts { _ = try embedder.embed([prompt], batchSize: 1, tap: tap) }
            })
            for layer in result.layers {
                FileHandle.standardError.write(Data(String(format: "CURVE %d %@ nearest %.4f adaround %.4f flipped %d\n", iterations, layer.node,
                                                           layer.nearestLoss, layer.adaRoundLoss, layer.flippedWeights).utf8))
            }
        }
    }
}

/// AdaRound on one MiniLM layer (OVERFIT_LAYER) with fp32 inputs, fitted on the 64
/// calibration prompts and judged on held-out sentences (OVERFIT_PROBE="1000,15000"): the
/// reconstruction loss of nearest rounding and of AdaRound on both sets.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["OVERFIT_PROBE"] != nil))
struct AdaRoundOverfitProbeTests {
    @Test func overfit() throws {
        let environment = ProcessInfo.processInfo.environment
        let (model, tokenizer, _, encodings) = try AdaRoundCurveProbeTests.miniLMW4()
        let layer = environment["OVERFIT_LAYER"] ?? "encoder.layer.0.output.dense"
        let node = try #require(model.graph.node(named: layer))
        let producer = try #require(model.graph.producer(of: node.inputs[0])).name
        let weight = try #require(node.parameters["weight"])
        func data(_ prompts: [String]) throws -> AdaRoundLayerData {
            let tap = RowCaptureTap(nodes: [producer])
            let embedder = SentenceEmbedder(model: model, tokenizer: tokenizer, maximumLength: 128, executor: GraphExecutor(graph: model.graph))
            for prompt in prompts { _ = try embedder.embed([prompt], batchSize: 1, tap: tap) }
            let rows = tap.rows[producer]!
            return AdaRoundLayerData(quantizedInputs: rows, floatInputs: rows, weight: weight, sampleRows: tap.sampleRows[producer]!, threads: 2)
        }
        let train = try data(try PipelinePaths.prompts(64)), test = try data(try PipelinePaths.heldout(200))
        let encoding = try #require(encodings[node.parameterSources["weight"]!])
        let nearest = try Quantizer.fakeQuantize(weight, with: encoding).scalars
        func report(_ label: String, _ values: [Float]) {
            let fit = AdaRoundMath.reconstructionLoss(weight: values, data: train, threads: 2)
            let heldOut = AdaRoundMath.reconstructionLoss(weight: values, data: test, threads: 2)
            FileHandle.standardError.write(Data(String(format: "OVERFIT %@ %@ calibration %.4f held-out %.4f (rows %d / %d)\n", layer, label,
                                                       fit, heldOut, train.rows, test.rows).utf8))
        }
        report("nearest", nearest)
        for iterations in environment["OVERFIT_PROBE"]!.split(separator: ",").compactMap({ Int($0) }) {
            var parameters = AdaRoundParameters(iterations: iterations)
            if let rate = environment["OVERFIT_LR"].flatMap(Float.init) { parameters.learningRate = rate }
            let result = try #require(try AdaRoundLayer.optimize(weight: weight, encoding: encoding, data: train, parameters: parameters, threads: 2))
            report("adaround-\(iterations)", result.weight.scalars)
        }
    }
}

import Foundation
import ModelGraph
import ModelIO
import Quantization
import QuantCore
import Runtime
import Testing

/// AdaRound on the real MiniLM (release mode; few iterations).
extension AdaRoundSuites {
@Suite(.serialized) struct AdaRoundModelTests {
    static func recipe(iterations: Int) throws -> QuantizationRecipe {
        QuantizationRecipe(weights: try QuantScheme(bits: 4, symmetry: .symmetric, granularity: .perChannel(axis: 0)),
                           activations: .float, embeddings: nil, techniques: [.adaround], adaroundIterations: iterations)
    }

    /// The first transformer block's six linear layers, learned in order on 6 sentences.
    @Test func firstBlockLayersReconstructAtLeastAsWellAsNearest() throws {
        let started = Date()
        let folder = PipelinePaths.miniLMFolder
        let model = try HuggingFaceModel(path: folder)
        let tokenizer = try WordPieceTokenizer(modelFolder: folder)
        let recipe = try Self.recipe(iterations: 200)
        let plan = try QuantizationPlan(graph: model.graph, recipe: recipe)
        let targets = plan.weights.filter { $0.node.hasPrefix("encoder.layer.0.") }
        #expect(targets.count == 6)
        let encodings = try Calibrator.encodeWeights(plan: plan, graph: model.graph)
        let prompts = try PipelinePaths.prompts(6)
        var progressCalls: [Int] = []
        let result = try AdaRoundModel.apply(
            graph: model.graph, targets: targets, encodings: encodings, iterations: 200,
            runSamples: { executor, tap in
                let embedder = SentenceEmbedder(model: model, tokenizer: tokenizer, maximumLength: 128, executor: executor)
                for prompt in prompts { _ = try embedder.embed([prompt], batchSize: 1, tap: tap) }
            },
            progress: { done, total, _ in
                #expect(total == 6)
                progressCalls.append(done)
            })
        #expect(progressCalls == Array(1...6))
        #expect(result.layers.map(\.node) == targets.map(\.node))
        for layer in result.layers {
            #expect(layer.rows > 6)
            let chosen = layer.keptNearest ? layer.nearestLoss : layer.adaRoundLoss
            #expect(chosen <= layer.nearestLoss, "\(layer.node)")
        }
        // Every layer improves on nearest rounding already after 200 steps (by 3–20 % when measured).
        #expect(result.layers.filter { !$0.keptNearest && $0.adaRoundLoss < 0.99 * $0.nearestLoss }.count == 6,
                "\(result.layers.map { ($0.node, $0.nearestLoss, $0.adaRoundLoss) })")
        for target in targets {
            let weight = try #require(result.weights[target.tensor])
            let encoding = try #require(encodings[target.tensor])
            #expect(try Quantizer.fakeQuantize(weight, with: encoding) == weight, "\(target.tensor) is not on its grid")
        }
        #expect(Date().timeIntervalSince(started) < 60)
    }

    /// calibrate → calibration folder → export: the compressed model holds exactly the
    /// AdaRounded weights.
    @Test func calibrationCarriesAdjustedWeightsIntoTheExport() throws {
        let calibration = try Calibrator.calibrate(modelFolder: PipelinePaths.miniLMFolder, prompts: try PipelinePaths.prompts(4),
                                                   recipe: try Self.recipe(iterations: 3))
        #expect(calibration.adjustedWeights.count == 36)
        #expect(calibration.adaRoundLayers?.count == 36)
        let folder = try PipelinePaths.temporaryFolder()
        try calibration.write(toFolder: folder + "/cal")
        #expect(FileManager.default.fileExists(atPath: folder + "/cal/" + CalibrationResult.adjustedWeightsFileName))
        let reread = try CalibrationResult.read(fromFolder: folder + "/cal")
        #expect(reread.adjustedWeights == calibration.adjustedWeights)
        #expect(reread.recipe.techniques == [.adaround])
        try Exporter.export(reread, to: folder + "/model")
        let store = try CompressedModel(folder: folder + "/model").dequantizedStore()
        for (name, weight) in calibration.adjustedWeights {
            #expect(try store.floatTensor(named: name) == weight, "\(name)")
        }
    }
}
}

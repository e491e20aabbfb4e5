import Foundation
import QuantCore
@testable import Quantization
import Runtime
import Testing

/// Sequential MSE's per-layer search against a plain reference, and on the real MiniLM.
@Suite struct SequentialMSETests {
    /// Inputs `[rows, columns]` with one input column 30× the others (as MiniLM's residual
    /// stream has), fp32 inputs a little off the quantized ones, and targets `X_fp·Wᵀ`.
    static func layer(outputs: Int, columns: Int, rows: Int, seed: UInt64) -> (weight: Tensor, data: AdaRoundLayerData) {
        var generator = SeededGenerator(seed: seed)
        func uniform() -> Float { Float(generator.next() % 2_000_001) / 1_000_000 - 1 }
        let weight = Tensor(shape: [outputs, columns], scalars: (0..<(outputs * columns)).map { _ in uniform() * 0.5 })
        var inputs = [Float](), floatInputs = [Float]()
        for _ in 0..<rows {
            for column in 0..<columns {
                let value = uniform() * (column == 2 ? 30 : 1)
                inputs.append(value)
                floatInputs.append(value + 0.01 * uniform())
            }
        }
        var targets = [Float](repeating: 0, count: rows * outputs)
        for row in 0..<rows {
            for output in 0..<outputs {
                var sum = 0.0
                for column in 0..<columns { sum += Double(floatInputs[row * columns + column]) * Double(weight.scalars[output * columns + column]) }
                targets[row * outputs + output] = Float(sum)
            }
        }
        let data = AdaRoundLayerData(inputs: inputs, targets: targets, sampleRows: Array(repeating: rows / 4, count: 4),
                                     inputFeatures: columns, outputFeatures: outputs)
        return (weight, data)
    }

    /// Plain reference: the loss of each channel of `quantized` on every row, in Double.
    static func referenceLosses(_ quantized: [Float], data: AdaRoundLayerData) -> [Double] {
        let columns = data.inputFeatures, outputs = data.outputFeatures
        return (0..<outputs).map { output in
            (0..<data.rows).reduce(0.0) { total, row in
                var sum = 0.0
                for column in 0..<columns { sum += Double(data.inputs[row * columns + column]) * Double(quantized[output * columns + column]) }
                let difference = sum - Double(data.targets[row * outputs + output])
                return total + difference * difference
            }
        }
    }

    @Test(arguments: [Symmetry.symmetric, .asymmetric])
    func perChannelSearchPicksEachChannelsBestCandidate(symmetry: Symmetry) throws {
        let (weight, data) = Self.layer(outputs: 6, columns: 10, rows: 48, seed: 3)
        let scheme = try QuantScheme(bits: 4, symmetry: symmetry, granularity: .perChannel(axis: 0))
        let encoding = try RangeEstimator.minMax.encoding(of: weight, scheme: scheme, tensorName: "w")
        let parameters = SequentialMSEParameters(candidates: 20)
        let result = try #require(try SequentialMSELayer.search(weight: weight, encoding: encoding, data: data, parameters: parameters,
                                                                tensorName: "w", threads: 2))
        #expect(result.encoding.scheme == scheme && result.encoding.scaleShape == encoding.scaleShape)
        // Reference: every candidate of every channel by brute force.
        var candidates = [encoding]
        for step in 1...20 {
            let fraction = Float(step) / 20
            let mins = (0..<6).map { row in weight.scalars[(row * 10)..<((row + 1) * 10)].min()! * fraction }
            let maxs = (0..<6).map { row in weight.scalars[(row * 10)..<((row + 1) * 10)].max()! * fraction }
            candidates.append(try Encoding(minimums: mins, maximums: maxs, scheme: scheme, shape: weight.shape, tensorName: "w"))
        }
        let losses = try candidates.map { Self.referenceLosses(try Quantizer.fakeQuantize(weight, with: $0).scalars, data: data) }
        let best = (0..<6).map { channel in losses.map { $0[channel] }.min()! }
        let chosen = Self.referenceLosses(result.quantizedWeight.scalars, data: data)
        for channel in 0..<6 {
            #expect(abs(chosen[channel] - best[channel]) <= 1e-6 * max(1, best[channel]), "channel \(channel)")
        }
        #expect(abs(result.loss - best.reduce(0, +) / 48) <= 1e-6 * result.loss)
        #expect(abs(result.estimatorLoss - losses[0].reduce(0, +) / 48) <= 1e-6 * result.estimatorLoss)
        // The outlier input column makes min-max ranges clearly suboptimal here.
        #expect(result.loss < 0.9 * result.estimatorLoss)
        #expect(result.changedGroups > 0)
        #expect(try Quantizer.fakeQuantize(weight, with: result.encoding) == result.quantizedWeight)
    }

    @Test func perTensorSearchChoosesOneRangeAndNeverLoses() throws {
        let (weight, data) = Self.layer(outputs: 5, columns: 8, rows: 40, seed: 9)
        let scheme = try QuantScheme(bits: 4, symmetry: .symmetric, granularity: .perTensor)
        let encoding = try RangeEstimator.mse.encoding(of: weight, scheme: scheme, tensorName: "w")
        let result = try #require(try SequentialMSELayer.search(weight: weight, encoding: encoding, data: data,
                                                                parameters: SequentialMSEParameters(), tensorName: "w", threads: 1))
        #expect(result.encoding.groupCount == 1)
        #expect(result.loss <= result.estimatorLoss)
        let reference = Self.referenceLosses(result.quantizedWeight.scalars, data: data).reduce(0, +) / 40
        #expect(abs(reference - result.loss) <= 1e-6 * reference)
    }

    @Test func resultsDoNotDependOnTheThreadCount() throws {
        let (weight, data) = Self.layer(outputs: 70, columns: 12, rows: 160, seed: 5)
        let scheme = try QuantScheme(bits: 4, symmetry: .symmetric, granularity: .perChannel(axis: 0))
        let encoding = try RangeEstimator.minMax.encoding(of: weight, scheme: scheme, tensorName: "w")
        let runs = try [1, 2, 3].map { threads in
            try #require(try SequentialMSELayer.search(weight: weight, encoding: encoding, data: data,
                                                       parameters: SequentialMSEParameters(), tensorName: "w", threads: threads))
        }
        for run in runs.dropFirst() {
            #expect(run.encoding == runs[0].encoding && run.loss == runs[0].loss)
        }
    }

    @Test func depthwiseLayersAreSearchedPerChannel() throws {
        var generator = SeededGenerator(seed: 11)
        func uniform() -> Float { Float(generator.next() % 2_000_001) / 1_000_000 - 1 }
        let channels = 4, taps = 9, rows = 64
        let weight = Tensor(shape: [channels, taps], scalars: (0..<(channels * taps)).map { _ in uniform() })
        let inputs = (0..<(rows * taps * channels)).map { index in uniform() * (index % channels == 1 ? 10 : 1) }
        var targets = [Float](repeating: 0, count: rows * channels)
        for row in 0..<rows {
            for channel in 0..<channels {
                for tap in 0..<taps {
                    targets[row * channels + channel] += inputs[(row * taps + tap) * channels + channel] * weight.scalars[channel * taps + tap]
                }
            }
        }
        let data = AdaRoundLayerData(inputs: inputs, targets: targets, sampleRows: [32, 32], inputFeatures: taps,
                                     outputFeatures: channels, layout: .depthwise)
        let scheme = try QuantScheme(bits: 4, symmetry: .symmetric, granularity: .perChannel(axis: 0))
        let encoding = try RangeEstimator.minMax.encoding(of: weight, scheme: scheme, tensorName: "dw")
        let result = try #require(try SequentialMSELayer.search(weight: weight, encoding: encoding, data: data,
                                                                parameters: SequentialMSEParameters(), tensorName: "dw", threads: 2))
        #expect(result.loss <= result.estimatorLoss)
        var chosen = [Float](repeating: 0, count: rows * channels)
        AdaRoundMath.depthwiseMultiply(inputs, rows: rows, result.quantizedWeight.scalars, channels: channels, taps: taps,
                                       into: &chosen, threads: 1)
        let loss = zip(chosen, targets).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } / Double(rows)
        #expect(abs(loss - result.loss) <= 1e-5 * max(loss, 1e-9))
    }

    @Test func perBlockEncodingsAreNotSearched() throws {
        let (weight, data) = Self.layer(outputs: 4, columns: 8, rows: 16, seed: 1)
        let scheme = try QuantScheme(bits: 4, symmetry: .symmetric, granularity: .perBlock(axis: 1, size: 4))
        let encoding = try RangeEstimator.minMax.encoding(of: weight, scheme: scheme, tensorName: "w")
        #expect(try SequentialMSELayer.search(weight: weight, encoding: encoding, data: data, parameters: SequentialMSEParameters(),
                                              tensorName: "w", threads: 1) == nil)
    }

    /// On the real MiniLM (W4 per-channel, 16 calibration sentences): every layer's chosen
    /// ranges reconstruct at least as well as the estimator's, and the model is closer to fp32
    /// on held-out sentences (measured: 0.966 against 0.950 mean cosine with 64 sentences).
    @Test func miniLMWeightRangesBeatTheEstimatorOnHeldOutSentences() throws {
        func recipe(_ techniques: [QuantizationTechnique]) throws -> QuantizationRecipe {
            QuantizationRecipe(weights: try QuantScheme(bits: 4, symmetry: .symmetric, granularity: .perChannel(axis: 0)),
                               weightEstimator: .mse, activations: .float, embeddings: nil, techniques: techniques)
        }
        let prompts = try PipelinePaths.prompts(16)
        let searched = try Calibrator.calibrate(modelFolder: PipelinePaths.miniLMFolder, prompts: prompts, recipe: try recipe([.sequentialMSE]))
        let plain = try Calibrator.calibrate(modelFolder: PipelinePaths.miniLMFolder, prompts: prompts, recipe: try recipe([]))
        let layers = try #require(searched.sequentialMSELayers)
        #expect(layers.count == 36)
        for layer in layers { #expect(layer.loss <= layer.estimatorLoss, "\(layer.node)") }
        #expect(layers.filter { $0.changedGroups > 0 }.count > 30)
        #expect(searched.notes.contains { $0.hasPrefix("sequential MSE chose the weight ranges of") })
        #expect(searched.adjustedWeights.isEmpty, "sequential MSE changes encodings, not weights")

        let embedder = try SentenceEmbedder(modelFolder: PipelinePaths.miniLMFolder)
        let heldout = try PipelinePaths.heldout(48)
        let reference = try embedder.embed(heldout).embeddings
        func meanCosine(_ calibration: CalibrationResult) throws -> Double {
            let graph = try QuantizationSimulator.applyingWeightEncodings(calibration.weightEncodings, to: embedder.model.graph)
            let candidate = SentenceEmbedder(model: embedder.model, tokenizer: embedder.tokenizer, maximumLength: embedder.maximumLength,
                                             executor: GraphExecutor(graph: graph))
            return try Evaluator.fidelity(reference: reference, candidate: try candidate.embed(heldout).embeddings).meanCosine
        }
        let (searchedCosine, plainCosine) = (try meanCosine(searched), try meanCosine(plain))
        #expect(searchedCosine > plainCosine + 0.005, "sequential MSE \(searchedCosine), estimator \(plainCosine)")
    }
}

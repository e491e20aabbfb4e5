import CAdaRound
import Foundation
import Quantization
import QuantCore
import Testing

/// A synthetic layer: weights, an encoding, and calibration data whose quantized inputs are
/// the fp32 inputs plus a little noise (as an upstream quantized layer would cause).
struct SyntheticLayer {
    var weight: Tensor
    var encoding: Encoding
    var data: AdaRoundLayerData

    init(outputs: Int, inputs: Int, samples: Int, bits: Int = 4, symmetry: Symmetry = .symmetric,
         granularity: Granularity = .perChannel(axis: 0), seed: UInt64 = 7) throws {
        var generator = SeededGenerator(seed: seed)
        func uniform() -> Float { Float(generator.next() >> 40) / Float(1 << 24) * 2 - 1 }
        // Correlated inputs (a shared component per row) make rounding choices interact.
        weight = Tensor(shape: [outputs, inputs], scalars: (0..<outputs * inputs).map { _ in uniform() * 0.5 })
        encoding = try RangeEstimator.minMax.encoding(of: weight, scheme: try QuantScheme(bits: bits, symmetry: symmetry, granularity: granularity),
                                                      tensorName: "synthetic")
        let sampleRows = (0..<samples).map { 3 + $0 % 5 }
        let rows = sampleRows.reduce(0, +)
        var floatInputs = [Float](), quantizedInputs = [Float]()
        for _ in 0..<rows {
            let shared = uniform()
            for _ in 0..<inputs {
                let value = shared + 0.5 * uniform()
                floatInputs.append(value)
                quantizedInputs.append(value + 0.01 * uniform())
            }
        }
        data = AdaRoundLayerData(quantizedInputs: quantizedInputs, floatInputs: floatInputs, weight: weight,
                                 sampleRows: sampleRows, threads: 1)
    }

    /// ‖X·Wᵀ − T‖² / rows in Double.
    func loss(_ candidate: Tensor) -> Double {
        let inputs = data.inputFeatures, outputs = data.outputFeatures, rows = data.rows
        var total = 0.0
        for row in 0..<rows {
            for output in 0..<outputs {
                var y = -Double(data.targets[row * outputs + output])
                for input in 0..<inputs { y += Double(data.inputs[row * inputs + input]) * Double(candidate.scalars[output * inputs + input]) }
                total += y * y
            }
        }
        return total / Double(rows)
    }
}

/// The AdaRound suites run one after the other (the model suites are heavy). Concurrent use is
/// tested on purpose by `concurrentOptimisationsMatchTheSerialResult`.
@Suite(.serialized) enum AdaRoundSuites {}

extension AdaRoundSuites {
@Suite struct AdaRoundTests {
    @Test func rectifiedSigmoidStretchesAndClamps() {
        #expect(AdaRoundParameters.rectifiedSigmoid(0) == 0.5)
        #expect(AdaRoundParameters.rectifiedSigmoid(20) == 1)
        #expect(AdaRoundParameters.rectifiedSigmoid(-20) == 0)
        // sigmoid(V)·1.2 − 0.1 reaches 1 at sigmoid = 11/12, i.e. V = log 11, before saturating.
        #expect(AdaRoundParameters.rectifiedSigmoid(Float(log(11.0)) + 1e-3) == 1)
        #expect(AdaRoundParameters.rectifiedSigmoid(Float(log(11.0)) - 0.05) < 1)
    }

    @Test(arguments: [Float(0), 0.1, 0.25, 0.5, 0.75, 0.9, 0.999])
    func initialValueReproducesTheFraction(fraction: Float) {
        let value = AdaRoundParameters.initialValue(forFraction: fraction)
        #expect(abs(AdaRoundParameters.rectifiedSigmoid(value) - fraction) <= 1e-5)
    }

    @Test func betaIsAnnealedAfterTheWarmStart() throws {
        let parameters = AdaRoundParameters(iterations: 100)
        #expect(parameters.firstRegularizedIteration == 20)
        for iteration in 0..<20 { #expect(parameters.beta(atIteration: iteration) == nil) }
        #expect(parameters.beta(atIteration: 20) == 20)
        // Half-way through the annealing (iteration 60), β is the mean of the two ends.
        #expect(abs(try #require(parameters.beta(atIteration: 60)) - 11) < 1e-5)
        let betas = (20..<100).map { parameters.beta(atIteration: $0)! }
        #expect(zip(betas, betas.dropFirst()).allSatisfy { $0 > $1 })
        #expect(betas.last! > 2 && betas.last! < 2.01)
        #expect(AdaRoundParameters.defaultIterations(bits: 8) == 10_000)
        #expect(AdaRoundParameters.defaultIterations(bits: 4) == 15_000)
    }

    /// The kernel's dL/dV against central differences of the loss computed in Double.
    @Test(arguments: [false, true])
    func gradientMatchesFiniteDifferences(portable: Bool) {
        let outputs = 3, inputs = 5, rows = 4
        var generator = SeededGenerator(seed: 3)
        func uniform() -> Double { Double(generator.next() >> 11) / Double(1 << 53) * 2 - 1 }
        let x = (0..<rows * inputs).map { _ in uniform() }
        let t = (0..<rows * outputs).map { _ in uniform() }
        let scale = 0.3, low = -7.0, high = 7.0
        let floors = (0..<outputs * inputs).map { _ in (uniform() * 5).rounded(.down) }
        let alpha = (0..<outputs * inputs).map { _ in uniform() * 2 }
        let lambda = 0.01, beta = 5.0
        func h(_ v: Double) -> Double { min(1, max(0, 1 / (1 + exp(-v)) * 1.2 - 0.1)) }
        func loss(_ alpha: [Double]) -> Double {
            let w = (0..<alpha.count).map { scale * min(max(floors[$0] + h(alpha[$0]), low), high) }
            var reconstruction = 0.0
            for row in 0..<rows {
                for output in 0..<outputs {
                    var y = -t[row * outputs + output]
                    for input in 0..<inputs { y += x[row * inputs + input] * w[output * inputs + input] }
                    reconstruction += y * y
                }
            }
            let regulariser = alpha.reduce(0.0) { $0 + 1 - pow(abs(2 * h($1) - 1), beta) }
            return reconstruction / Double(rows) + lambda * regulariser
        }
        // ∂L/∂W̃ = 2/rows · (X·W̃ᵀ − T)ᵀ·X, in Double, handed to the kernel as Float.
        let w = (0..<alpha.count).map { scale * min(max(floors[$0] + h(alpha[$0]), low), high) }
        var weightGradient = [Float](repeating: 0, count: outputs * inputs)
        for output in 0..<outputs {
            for input in 0..<inputs {
                var sum = 0.0
                for row in 0..<rows {
                    var y = -t[row * outputs + output]
                    for k in 0..<inputs { y += x[row * inputs + k] * w[output * inputs + k] }
                    sum += y * x[row * inputs + input]
                }
                weightGradient[output * inputs + input] = Float(2 * sum / Double(rows))
            }
        }
        var constants = aimet_adaround_parameters(zeta: 1.1, gamma: -0.1, regularization: Float(lambda), beta: Float(beta),
                                                  learning_rate: 0, first_decay: 0.9, second_decay: 0.999, epsilon: 1e-8,
                                                  first_correction: 1, second_correction: 1)
        let floatFloors = floors.map { Float($0) }, floatAlpha = alpha.map { Float($0) }
        var gradient = [Float](repeating: 0, count: alpha.count)
        let function = portable ? aimet_adaround_gradient_portable : aimet_adaround_gradient
        function(alpha.count, weightGradient, floatFloors, Float(scale), Float(low), Float(high), floatAlpha, &constants, &gradient)
        let largest = gradient.map { abs(Double($0)) }.max()!
        #expect(largest > 1e-3)
        for index in alpha.indices {
            let step = 1e-5
            var plus = alpha, minus = alpha
            plus[index] += step
            minus[index] -= step
            let numeric = (loss(plus) - loss(minus)) / (2 * step)
            #expect(abs(numeric - Double(gradient[index])) <= 2e-4 * max(1, largest), "weight \(index): \(numeric) vs \(gradient[index])")
        }
    }

    @Test func fastStepMatchesThePortableStep() {
        let count = 203
        var generator = SeededGenerator(seed: 11)
        func uniform() -> Float { Float(generator.next() >> 40) / Float(1 << 24) * 2 - 1 }
        let weightGradient = (0..<count).map { _ in uniform() }
        let floors = (0..<count).map { _ in (uniform() * 6).rounded(.down) }
        var constants = aimet_adaround_parameters(zeta: 1.1, gamma: -0.1, regularization: 0.01, beta: 7, learning_rate: 1e-3,
                                                  first_decay: 0.9, second_decay: 0.999, epsilon: 1e-8,
                                                  first_correction: 0.1, second_correction: 0.001)
        var alphaFast = (0..<count).map { _ in uniform() * 4 }, alphaPortable = alphaFast
        var firstFast = (0..<count).map { _ in uniform() * 0.1 }, firstPortable = firstFast
        var secondFast = (0..<count).map { _ in abs(uniform()) * 0.1 }, secondPortable = secondFast
        var softFast = [Float](repeating: 0, count: count), softPortable = softFast
        aimet_adaround_step(count, weightGradient, floors, 0.25, -7, 7, &alphaFast, &firstFast, &secondFast, &constants, &softFast)
        aimet_adaround_step_portable(count, weightGradient, floors, 0.25, -7, 7, &alphaPortable, &firstPortable, &secondPortable,
                                     &constants, &softPortable)
        for index in 0..<count {
            #expect(abs(alphaFast[index] - alphaPortable[index]) <= 1e-5 * max(1, abs(alphaPortable[index])))
            #expect(abs(firstFast[index] - firstPortable[index]) <= 1e-5 * max(1e-2, abs(firstPortable[index])))
            #expect(abs(softFast[index] - softPortable[index]) <= 1e-5)
        }
    }

    @Test func resultsAreIdenticalForAnyThreadCount() throws {
        let layer = try SyntheticLayer(outputs: 150, inputs: 40, samples: 24)
        let parameters = AdaRoundParameters(iterations: 60, seed: 5)
        let one = try #require(try AdaRoundLayer.optimize(weight: layer.weight, encoding: layer.encoding, data: layer.data,
                                                          parameters: parameters, threads: 1))
        let two = try #require(try AdaRoundLayer.optimize(weight: layer.weight, encoding: layer.encoding, data: layer.data,
                                                          parameters: parameters, threads: 2))
        let three = try #require(try AdaRoundLayer.optimize(weight: layer.weight, encoding: layer.encoding, data: layer.data,
                                                            parameters: parameters, threads: 3))
        #expect(one.weight == two.weight && one.weight == three.weight)
        #expect(one.adaRoundLoss == two.adaRoundLoss && one.adaRoundLoss == three.adaRoundLoss)
    }

    /// Several optimisations at once in one process (each asking for 2 threads, so they
    /// compete for the worker pool and run their blocks on whichever thread is free) give
    /// exactly the serial result, on every round.
    @Test func concurrentOptimisationsMatchTheSerialResult() throws {
        let layer = try SyntheticLayer(outputs: 150, inputs: 40, samples: 24)
        let parameters = AdaRoundParameters(iterations: 40, seed: 9)
        let serial = try #require(try AdaRoundLayer.optimize(weight: layer.weight, encoding: layer.encoding, data: layer.data,
                                                             parameters: parameters, threads: 1))
        let rounds = 12, lanes = 3
        let results = ResultBox(count: rounds * lanes)
        for round in 0..<rounds {
            DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                let result = try? AdaRoundLayer.optimize(weight: layer.weight, encoding: layer.encoding, data: layer.data,
                                                         parameters: parameters, threads: lane == 0 ? 1 : 2)
                results.store(result, at: round * lanes + lane)
            }
        }
        let all = results.values
        #expect(all.count == rounds * lanes)
        let differing = all.filter { $0?.weight != serial.weight || $0?.adaRoundLoss != serial.adaRoundLoss }.count
        #expect(differing == 0, "\(differing) of \(all.count) concurrent runs differ from the serial run")
    }

    @Test(arguments: [(Symmetry.symmetric, Granularity.perChannel(axis: 0)), (.asymmetric, .perTensor), (.symmetric, .perBlock(axis: 1, size: 16))])
    func adaRoundBeatsNearestAndLandsOnTheGrid(symmetry: Symmetry, granularity: Granularity) throws {
        let layer = try SyntheticLayer(outputs: 70, inputs: 32, samples: 40, symmetry: symmetry, granularity: granularity)
        let result = try #require(try AdaRoundLayer.optimize(weight: layer.weight, encoding: layer.encoding, data: layer.data,
                                                             parameters: AdaRoundParameters(iterations: 1500, seed: 1), threads: 2))
        #expect(!result.keptNearest)
        #expect(result.adaRoundLoss < 0.9 * result.nearestLoss, "\(result.adaRoundLoss) vs nearest \(result.nearestLoss)")
        #expect(result.flippedWeights > 0)
        // The losses, recomputed here in Double on every row: the chosen weights beat nearest's.
        let nearestWeight = try Quantizer.fakeQuantize(layer.weight, with: layer.encoding)
        let chosenLoss = layer.loss(result.weight), nearestLoss = layer.loss(nearestWeight)
        #expect(chosenLoss < nearestLoss)
        #expect(abs(chosenLoss - result.adaRoundLoss) <= 1e-4 * nearestLoss)
        #expect(abs(nearestLoss - result.nearestLoss) <= 1e-4 * nearestLoss)
        // On the grid: the exporter's nearest rounding gives integers that dequantize to exactly
        // these weights, and each is ⌊w/s⌋ or ⌊w/s⌋ + 1 (clamped to the grid).
        let integers = try Quantizer.quantize(result.weight, with: layer.encoding)
        #expect(try Quantizer.dequantize(integers, shape: result.weight.shape, with: layer.encoding) == result.weight)
        let record = try Exporter.record(for: result.weight, named: "synthetic", encoding: layer.encoding)
        #expect(record.values == integers)
        let nearestIntegers = try Quantizer.quantize(layer.weight, with: layer.encoding)
        let nearest = try Quantizer.fakeQuantize(layer.weight, with: layer.encoding)
        var changed = 0
        for index in integers.indices {
            // Nearest and AdaRound differ by at most one grid step.
            #expect(abs(integers[index] - nearestIntegers[index]) <= 1)
            if result.weight.scalars[index] != nearest.scalars[index] { changed += 1 }
        }
        #expect(changed == result.flippedWeights)
    }

    @Test func worseRoundingFallsBackToNearest() throws {
        // With no iterations the rounding is h(V₀) ≥ ½, i.e. nearest rounding itself (up to
        // ties), so the result can never be worse than nearest's.
        let layer = try SyntheticLayer(outputs: 20, inputs: 16, samples: 10)
        let result = try #require(try AdaRoundLayer.optimize(weight: layer.weight, encoding: layer.encoding, data: layer.data,
                                                             parameters: AdaRoundParameters(iterations: 0), threads: 1))
        #expect(result.keptNearest)
        #expect(result.weight == (try Quantizer.fakeQuantize(layer.weight, with: layer.encoding)))
    }

    @Test func unsupportedLayoutsAreDeclined() throws {
        let layer = try SyntheticLayer(outputs: 8, inputs: 16, samples: 4, granularity: .perChannel(axis: 1))
        #expect(try AdaRoundLayer.optimize(weight: layer.weight, encoding: layer.encoding, data: layer.data,
                                           parameters: AdaRoundParameters(iterations: 3)) == nil)
    }

    @Test func recipesWithoutTechniquesStillDecode() throws {
        let old = #"{"weights":{"bits":4,"symmetry":"symmetric","granularity":{"kind":"per_channel","axis":0}}}"#
        let recipe = try JSONDecoder().decode(QuantizationRecipe.self, from: Data(old.utf8))
        #expect(recipe.techniques.isEmpty && recipe.adaroundIterations == nil)
        var adaRound = recipe
        adaRound.techniques = [.adaround]
        adaRound.adaroundIterations = 1000
        let encoded = try JSONEncoder().encode(adaRound)
        #expect(String(decoding: encoded, as: UTF8.self).contains(#""techniques":["adaround"]"#))
        #expect(try JSONDecoder().decode(QuantizationRecipe.self, from: encoded) == adaRound)
        #expect(!String(decoding: try JSONEncoder().encode(recipe), as: UTF8.self).contains("techniques"))
        #expect(QuantizationTechnique(rawValue: "adaround") == .adaround)
    }

    @Test func recipeFilesCanSetAdaRoundsStepAndRegulariser() throws {
        let base = #"{"weights":{"bits":4,"symmetry":"symmetric","granularity":{"kind":"per_channel","axis":0}},"seed":7"#
        let plain = try JSONDecoder().decode(QuantizationRecipe.self, from: Data((base + "}").utf8))
        #expect(plain.adaRoundParameters == AdaRoundParameters(iterations: 0, seed: 7))
        let tuned = try JSONDecoder().decode(QuantizationRecipe.self, from: Data(
            (base + #","adaround_learning_rate":0.002,"adaround_regularization":0.05}"#).utf8))
        #expect(tuned.adaRoundParameters.learningRate == 0.002 && tuned.adaRoundParameters.regularization == 0.05)
        #expect(tuned.adaRoundParameters.seed == 7)
        #expect(try JSONDecoder().decode(QuantizationRecipe.self, from: try JSONEncoder().encode(tuned)) == tuned)
        #expect(!String(decoding: try JSONEncoder().encode(plain), as: UTF8.self).contains("adaround_learning_rate"))
        for bad in ["0", "-0.1"] {
            #expect(throws: DecodingError.self) {
                try JSONDecoder().decode(QuantizationRecipe.self, from: Data((base + ",\"adaround_learning_rate\":\(bad)}").utf8))
            }
        }
    }
}
}

/// Results written from concurrent lanes, each into its own slot.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [AdaRoundLayerResult?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func store(_ result: AdaRoundLayerResult?, at index: Int) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    var values: [AdaRoundLayerResult?] {
        lock.lock()
        defer { lock.unlock() }
        return slots
    }
}

import Foundation
import QuantCore
import Testing

@Suite struct QuantizationMetricsTests {
    static let tolerance = 1e-12

    @Test func sqnrOfKnownSignals() throws {
        // Σx² = 5, Σ(x − x̂)² = 1 → 10·log10(5) dB.
        let sqnr = try QuantizationMetrics.sqnr(reference: [1, 2], approximation: [1, 1])
        #expect(abs(sqnr - 10 * log10(5.0)) < Self.tolerance)
        #expect(try QuantizationMetrics.sqnr(reference: [1, -2, 3], approximation: [1, -2, 3]) == .infinity)
        #expect(try QuantizationMetrics.sqnr(reference: [0, 0], approximation: [0, 1]) == -.infinity)
        #expect(throws: QuantizationError.lengthMismatch(what: "approximation", expected: 2, actual: 1)) {
            try QuantizationMetrics.sqnr(reference: [1, 2], approximation: [1])
        }
    }

    @Test func cosineMseAndMaximumError() throws {
        #expect(abs(try QuantizationMetrics.cosineSimilarity([1, 0], [0, 3])) < Self.tolerance)
        #expect(abs(try QuantizationMetrics.cosineSimilarity([1, 2, 3], [2, 4, 6]) - 1) < Self.tolerance)
        #expect(abs(try QuantizationMetrics.cosineSimilarity([1, 2], [-1, -2]) + 1) < Self.tolerance)
        #expect(try QuantizationMetrics.cosineSimilarity([0, 0], [0, 0]) == 1)
        #expect(try QuantizationMetrics.cosineSimilarity([0, 0], [1, 0]) == 0)
        #expect(abs(try QuantizationMetrics.meanSquaredError(reference: [1, 2, 3, 4], approximation: [1, 2.5, 3, 2]) - 4.25 / 4) < Self.tolerance)
        #expect(try QuantizationMetrics.maximumAbsoluteError(reference: [1, 2, 3, 4], approximation: [1, 2.5, 3, 2]) == 2)
        #expect(try QuantizationMetrics.meanSquaredError(reference: [], approximation: []) == 0)
    }

    @Test func klDivergenceOfProbabilitiesAndLogits() throws {
        let expected = 0.5 * log(0.5 / 0.25) + 0.5 * log(0.5 / 0.75)
        #expect(abs(try QuantizationMetrics.klDivergence(probabilities: [0.5, 0.5], [0.25, 0.75]) - expected) < 1e-7)
        #expect(try QuantizationMetrics.klDivergence(probabilities: [0.2, 0.8], [0.2, 0.8]) == 0)
        #expect(try QuantizationMetrics.klDivergence(probabilities: [0, 1], [0.5, 0.5]) > 0)
        #expect(try QuantizationMetrics.klDivergence(probabilities: [0.5, 0.5], [1, 0]) == .infinity)
        // Row 1: softmax([0, 0]) ‖ softmax([0, ln 3]) = [.5, .5] ‖ [.25, .75]; row 2 is identical up to a shift (KL 0).
        let reference: [Float] = [0, 0, 1, 2]
        let candidate: [Float] = [0, Float(log(3.0)), 101, 102]
        let kl = try QuantizationMetrics.klDivergence(referenceLogits: reference, candidateLogits: candidate, rowLength: 2)
        #expect(abs(kl - expected / 2) < 1e-7)
        #expect(throws: QuantizationError.self) {
            try QuantizationMetrics.klDivergence(referenceLogits: [0, 0, 0], candidateLogits: [0, 0, 0], rowLength: 2)
        }
    }

    @Test func fakeQuantizationSqnrGrowsAboutSixDecibelsPerBit() throws {
        var random = QuantizationTestRandom(seed: 11)
        let tensor = Tensor(shape: [4096], scalars: random.uniform(4096, in: -1...1))
        var previous = -Double.infinity
        for bits in [4, 8, 12, 16] {
            let scheme = try QuantScheme(bits: bits, symmetry: .symmetric, granularity: .perTensor)
            let encoding = try RangeEstimator.minMax.encoding(of: tensor, scheme: scheme, tensorName: "u")
            let fake = try Quantizer.fakeQuantize(tensor, with: encoding)
            let sqnr = try QuantizationMetrics.sqnr(reference: tensor.scalars, approximation: fake.scalars)
            // Uniform data on a (2^b − 1)-level grid: SQNR = 4·qmax² ≈ 20·log10(2^(b−1) − 1) + 6.02 dB, within 1 dB.
            let theory = 20 * log10(Double((1 << (bits - 1)) - 1)) + 10 * log10(4.0)
            #expect(abs(sqnr - theory) < 1, "bits \(bits): \(sqnr) dB vs \(theory) dB")
            #expect(sqnr > previous)
            previous = sqnr
        }
    }
}

@testable import QuantCore
import Testing

/// Invariants of the reference quantizer, over bits × symmetry × granularity.
@Suite struct QuantizerInvariantTests {
    static let shape = [6, 32]
    static let bitWidths = [4, 8, 16]

    /// A `[6, 32]` tensor whose rows have very different magnitudes, a one-sided row, and exact zeros.
    static func sampleTensor(seed: UInt64) -> Tensor {
        var random = QuantizationTestRandom(seed: seed)
        var scalars = [Float]()
        for row in 0..<shape[0] {
            let magnitude = Float(1 << row) / 4
            var values = random.uniform(shape[1], in: -magnitude...magnitude)
            if row == 3 { values = values.map { abs($0) + 0.5 } }
            values[row] = 0
            scalars += values
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    static func encoding(for tensor: Tensor, bits: Int, symmetry: Symmetry, granularity: Granularity) throws -> Encoding {
        let scheme = try QuantScheme(bits: bits, symmetry: symmetry, granularity: granularity)
        return try RangeEstimator.minMax.encoding(of: tensor, scheme: scheme, tensorName: "sample")
    }

    @Test(arguments: bitWidths, [Symmetry.symmetric, .asymmetric])
    func invariantsHoldForEveryGranularity(bits: Int, symmetry: Symmetry) throws {
        for granularity in invariantGranularities {
            let tensor = Self.sampleTensor(seed: UInt64(bits * 10 + granularity.description.count))
            let encoding = try Self.encoding(for: tensor, bits: bits, symmetry: symmetry, granularity: granularity)
            let groups = referenceGroupIndices(shape: tensor.shape, granularity: granularity)
            let quantized = try Quantizer.quantize(tensor, with: encoding)
            let fake = try Quantizer.fakeQuantize(tensor, with: encoding)
            let range = encoding.scheme.quantizedRange

            // Every value lies inside its group's min-max range, so the round trip is within scale/2.
            for index in 0..<tensor.count {
                let scale = encoding.scales[groups[index]]
                let error = abs(tensor.scalars[index] - fake.scalars[index])
                #expect(error <= roundTripTolerance(value: tensor.scalars[index], scale: scale),
                        "\(granularity) element \(index): error \(error), scale \(scale)")
                #expect(range.contains(quantized[index]))
                if tensor.scalars[index] == 0 { #expect(fake.scalars[index] == 0) }
            }
            // Zero is on every group's grid.
            for group in 0..<encoding.groupCount {
                #expect(range.contains(encoding.zeroPoints[group]))
                #expect(encoding.scales[group].isFinite && encoding.scales[group] > 0)
                #expect(encoding.minimum(ofGroup: group) <= 0 && encoding.maximum(ofGroup: group) >= 0)
            }
            if symmetry == .symmetric { #expect(encoding.zeroPoints.allSatisfy { $0 == 0 }) }
            // Fake quantization is quantize followed by dequantize, bit for bit, and idempotent.
            let dequantized = try Quantizer.dequantize(quantized, shape: tensor.shape, with: encoding)
            #expect(dequantized == fake)
            #expect(try Quantizer.fakeQuantize(fake, with: encoding) == fake)
            #expect(try Quantizer.quantize(fake, with: encoding) == quantized)
        }
    }

    @Test(arguments: invariantGranularities)
    func symmetricInt8NeverProducesMinus128(granularity: Granularity) throws {
        let tensor = Self.sampleTensor(seed: 3)
        let encoding = try Self.encoding(for: tensor, bits: 8, symmetry: .symmetric, granularity: granularity)
        // Push every value far past the range: clamping must stop at −127 and 127.
        let stretched = Tensor(shape: tensor.shape, scalars: tensor.scalars.map { $0 * 3 - 1 })
        let quantized = try Quantizer.quantize(stretched, with: encoding)
        #expect(quantized.min()! == -127 && quantized.max()! == 127)
        #expect(!quantized.contains(-128))
        let extremes = Tensor(shape: [2], scalars: [-.infinity, .infinity])
        let perTensor = try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perTensor)
        let unit = try Encoding(minimums: [-1], maximums: [1], scheme: perTensor, shape: [2], tensorName: "unit")
        #expect(try Quantizer.quantize(extremes, with: unit) == [-127, 127])
    }

    @Test func roundingIsHalfToEven() throws {
        let scheme = try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perTensor)
        let encoding = try Encoding(scheme: scheme, scaleShape: [], scales: [1], zeroPoints: [0])
        let ties = Tensor(shape: [9], scalars: [0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5, 126.5])
        #expect(try Quantizer.quantize(ties, with: encoding) == [0, 2, 2, 4, 0, -2, -2, -4, 126])
        let nan = Tensor(shape: [1], scalars: [.nan])
        #expect(try Quantizer.quantize(nan, with: encoding) == [0])
    }

    /// The magic-constant rounding against `rounded(.toNearestOrEven)` on random values and on
    /// exact ties, for every bit width's grid.
    @Test(arguments: bitWidths)
    func fastQuantizeMatchesPlainReference(bits: Int) throws {
        var random = QuantizationTestRandom(seed: UInt64(bits))
        for symmetry in [Symmetry.symmetric, .asymmetric] {
            let scheme = try QuantScheme(bits: bits, symmetry: symmetry, granularity: .perTensor)
            let range = scheme.quantizedRange
            let scale = Float.random(in: 0.001...2, using: &random)
            let zero: Int32 = symmetry == .symmetric ? 0 : Int32.random(in: range, using: &random)
            let encoding = try Encoding(scheme: scheme, scaleShape: [], scales: [scale], zeroPoints: [zero])
            let span = Float(range.upperBound - range.lowerBound) * scale
            var values = random.uniform(20_000, in: -span...span)
            values += (0..<2_000).map { Float(Int($0) - 1_000) * scale + scale / 2 } // ties where representable
            let reference = values.map { value -> Int32 in
                let rounded = (value / scale).rounded(.toNearestOrEven) + Float(zero)
                return Int32(min(max(rounded, Float(range.lowerBound)), Float(range.upperBound)))
            }
            let tensor = Tensor(shape: [values.count], scalars: values)
            #expect(try Quantizer.quantize(tensor, with: encoding) == reference)
            let fake = try Quantizer.fakeQuantize(tensor, with: encoding)
            #expect(fake.scalars == reference.map { Float($0 - zero) * scale })
        }
    }

    @Test(arguments: [Symmetry.symmetric, .asymmetric])
    func allZeroChannelHasFiniteScaleAndExactZeros(symmetry: Symmetry) throws {
        var tensor = Self.sampleTensor(seed: 9)
        for column in 0..<32 { tensor.scalars[2 * 32 + column] = 0 }
        let scheme = try QuantScheme(bits: 4, symmetry: symmetry, granularity: .perChannel(axis: 0))
        for estimator in [RangeEstimator.minMax, .percentile(99), .sqnr, .mse] {
            let encoding = try estimator.encoding(of: tensor, scheme: scheme, tensorName: "zeros")
            #expect(encoding.scales[2] == Encoding.scaleForZeroRange)
            #expect(encoding.scales.allSatisfy { $0.isFinite && $0 > 0 })
            let fake = try Quantizer.fakeQuantize(tensor, with: encoding)
            #expect(fake.scalars[64..<96].allSatisfy { $0 == 0 && $0.sign == .plus })
            #expect(!fake.scalars.contains { $0.isNaN })
        }
        let allZero = try Encoding(minimums: [0], maximums: [0], scheme: QuantScheme(bits: 8, symmetry: symmetry, granularity: .perTensor),
                                   shape: [3], tensorName: "all zero")
        #expect(try Quantizer.fakeQuantize(Tensor(zeros: [3]), with: allZero) == Tensor(zeros: [3]))
    }

    @Test func asymmetricZeroPointFollowsTheFormula() throws {
        let scheme = try QuantScheme(bits: 8, symmetry: .asymmetric, granularity: .perTensor)
        // min −1, max 3: scale 4/255, zero point round(0 + 1 / (4/255)) = round(63.75) = 64.
        let encoding = try Encoding(minimums: [-1], maximums: [3], scheme: scheme, shape: [4], tensorName: "t")
        #expect(encoding.scales == [Float(4.0 / 255.0)])
        #expect(encoding.zeroPoints == [64])
        // A positive-only range is widened to include 0: zero point 0.
        let positive = try Encoding(minimums: [2], maximums: [3], scheme: scheme, shape: [4], tensorName: "t")
        #expect(positive.zeroPoints == [0] && positive.scales == [Float(3.0 / 255.0)])
        let negative = try Encoding(minimums: [-3], maximums: [-2], scheme: scheme, shape: [4], tensorName: "t")
        #expect(negative.zeroPoints == [255] && negative.maximum(ofGroup: 0) == 0)
    }

    @Test func nonFiniteInputErrorsNameTheTensor() throws {
        let scheme = try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perTensor)
        #expect(throws: QuantizationError.nonFiniteValue(tensor: "encoder.layer.0.attention.self.query.weight", index: 0, value: .infinity)) {
            try Encoding(minimums: [0], maximums: [.infinity], scheme: scheme, shape: [2], tensorName: "encoder.layer.0.attention.self.query.weight")
        }
        var tensor = Self.sampleTensor(seed: 1)
        tensor.scalars[37] = .nan
        do {
            _ = try RangeEstimator.mse.encoding(of: tensor, scheme: scheme, tensorName: "pooler.dense.weight")
            Issue.record("NaN was accepted")
        } catch let error as QuantizationError {
            guard case .nonFiniteValue(let name, let index, let value) = error else { Issue.record("wrong error \(error)"); return }
            #expect(name == "pooler.dense.weight" && index == 37 && value.isNaN)
            #expect(error.description.contains("pooler.dense.weight"))
        }
    }

    /// Hand-checked per-block scales: `[2, 4]` with blocks of 2 along the input axis, and `[4, 2]`
    /// with blocks of 2 along axis 0.
    @Test func perBlockScalesUseTheRightElements() throws {
        let weight = Tensor(shape: [2, 4], scalars: [1.5, -2, 0.5, 4,
                                                     10, 1, -3, 3])
        let scheme = try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perBlock(axis: 1, size: 2))
        let encoding = try RangeEstimator.minMax.encoding(of: weight, scheme: scheme, tensorName: "w")
        #expect(encoding.scaleShape == [2, 2])
        #expect(encoding.scales == [2, 4, 10, 3].map { Float($0) / 127 })
        // 1.5 / (2/127) = 95.25 → 95; 0.5 / (4/127) = 15.875 → 16; 1 / (10/127) = 12.7 → 13.
        #expect(try Quantizer.quantize(weight, with: encoding) == [95, -127, 16, 127, 127, 13, -127, 127])

        let columns = Tensor(shape: [4, 2], scalars: [1, -5,
                                                      -2, 0.5,
                                                      3, 1,
                                                      0.25, -8])
        let alongRows = try QuantScheme(bits: 8, symmetry: .symmetric, granularity: .perBlock(axis: 0, size: 2))
        let columnEncoding = try RangeEstimator.minMax.encoding(of: columns, scheme: alongRows, tensorName: "c")
        #expect(columnEncoding.scaleShape == [2, 2])
        // Groups: rows 0–1 × column 0 → max 2; rows 0–1 × column 1 → 5; rows 2–3 × column 0 → 3; × column 1 → 8.
        #expect(columnEncoding.scales == [2, 5, 3, 8].map { Float($0) / 127 })
        #expect(referenceGroupIndices(shape: [4, 2], granularity: .perBlock(axis: 0, size: 2)) == [0, 1, 0, 1, 2, 3, 2, 3])
    }

    @Test func layoutErrorsAreReported() throws {
        let tensor = Self.sampleTensor(seed: 2)
        #expect(throws: QuantizationError.invalidBlockSize(size: 5, extent: 32)) {
            try RangeEstimator.minMax.encoding(of: tensor, scheme: QuantScheme(bits: 4, symmetry: .symmetric, granularity: .perBlock(axis: 1, size: 5)), tensorName: "t")
        }
        #expect(throws: QuantizationError.invalidAxis(axis: 2, rank: 2)) {
            try RangeEstimator.minMax.encoding(of: tensor, scheme: QuantScheme(bits: 4, symmetry: .symmetric, granularity: .perChannel(axis: 2)), tensorName: "t")
        }
        let encoding = try Self.encoding(for: tensor, bits: 8, symmetry: .symmetric, granularity: .perChannel(axis: 0))
        #expect(throws: QuantizationError.self) { try Quantizer.quantize(Tensor(zeros: [5, 32]), with: encoding) }
        #expect(throws: QuantizationError.self) { try Quantizer.dequantize([1, 2], shape: [6, 32], with: encoding) }
        #expect(throws: QuantizationError.invalidEncoding("scale 0.0 of group 0 is not positive and finite")) {
            try Encoding(scheme: encoding.scheme, scaleShape: [], scales: [0], zeroPoints: [0])
        }
    }
}

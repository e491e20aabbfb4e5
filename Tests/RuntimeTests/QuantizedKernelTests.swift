import CKernels
import Foundation
@testable import Runtime
import QuantCore
import Testing

/// Plain Swift references for the integer kernels, written from the math of the kernels'
/// documentation (not from the kernels).
enum QuantizedReference {
    /// clamp(round_half_even(x / scale) + zeroPoint, 0, 255); NaN → 0.
    static func quantize(_ x: Float, scale: Float, zeroPoint: Int32) -> UInt8 {
        let value = (x / scale).rounded(.toNearestOrEven) + Float(zeroPoint)
        if !(value > 0) { return 0 }
        return UInt8(min(value, 255))
    }

    /// Σ_k (a[i, k] − z)·w[j, k] in Int64, checked to fit Int32.
    static func accumulators(activations: [UInt8], rows: Int, depth: Int, zeroPoint: Int32, weight: [Int8],
                             columns: Int) -> [Int32] {
        var result = [Int32](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            for column in 0..<columns {
                var sum: Int64 = 0
                for index in 0..<depth {
                    sum += (Int64(activations[row * depth + index]) - Int64(zeroPoint)) * Int64(weight[column * depth + index])
                }
                result[row * columns + column] = Int32(sum)
            }
        }
        return result
    }

    /// Dequantised weight `[columns, depth]` as Double: (q − zero point)·scale, plus the
    /// magnitude |q|·scale + |zero point|·scale used for tolerances.
    static func dequantize(values: [Int], columns: Int, depth: Int, granularity: WeightScaleGranularity,
                           scales: [Float], zeroPoints: [Int32]?) -> (weights: [Double], magnitudes: [Double]) {
        var weights = [Double](repeating: 0, count: columns * depth), magnitudes = weights
        for column in 0..<columns {
            for index in 0..<depth {
                let slot: Int
                switch granularity {
                case .perChannel: slot = column
                case let .perBlock(size): slot = column * ((depth + size - 1) / size) + index / size
                }
                let q = Double(values[column * depth + index]), zero = Double(zeroPoints?[slot] ?? 0)
                let scale = Double(scales[slot])
                weights[column * depth + index] = (q - zero) * scale
                magnitudes[column * depth + index] = (abs(q) + abs(zero)) * abs(scale)
            }
        }
        return (weights, magnitudes)
    }

    /// Unpacks the compressed-model 4-bit layout (row-major `[columns, ⌈depth/2⌉]`, even
    /// index in the low nibble) to integers.
    static func unpackInt4(_ bytes: [UInt8], columns: Int, depth: Int, signed: Bool) -> [Int] {
        let rowBytes = (depth + 1) / 2
        var values = [Int](repeating: 0, count: columns * depth)
        for column in 0..<columns {
            for index in 0..<depth {
                let byte = bytes[column * rowBytes + index / 2]
                let nibble = Int(index % 2 == 0 ? byte & 0x0F : byte >> 4)
                values[column * depth + index] = signed && nibble >= 8 ? nibble - 16 : nibble
            }
        }
        return values
    }
}

@Suite struct QuantizedActivationTests {
    @Test func quantizerMatchesReferenceOnBothPaths() {
        var generator = SeededGenerator(seed: 7)
        var input = generator.floats(1000, scale: 4)
        // Ties (round half to even), grid ends, beyond the grid, NaN and infinities.
        input += [0.05, 0.15, 0.25, -0.05, -0.15, 12.75, 12.85, -12.8, -12.9, 100, -100, .nan, .infinity, -.infinity, 0]
        for zeroPoint: Int32 in [0, 128, 255, 37] {
            let scale: Float = 0.1
            let expected = input.map { QuantizedReference.quantize($0, scale: scale, zeroPoint: zeroPoint) }
            var fast = [UInt8](repeating: 1, count: input.count), portable = fast
            input.withUnsafeBufferPointer { input in
                fast.withUnsafeMutableBufferPointer {
                    QuantizedLinearKernel.quantizeActivations(input.baseAddress!, count: input.count, scale: scale,
                                                              zeroPoint: zeroPoint, output: $0.baseAddress!, threads: 2)
                }
                portable.withUnsafeMutableBufferPointer {
                    aimet_quantize_activations_u8_portable(input.baseAddress!, input.count, scale, zeroPoint, $0.baseAddress!)
                }
            }
            #expect(fast == expected, "zero point \(zeroPoint)")
            #expect(portable == expected, "zero point \(zeroPoint)")
        }
    }
}

@Suite struct QuantizedW8A8Tests {
    /// Float outputs: the kernel rounds the exact accumulator to Float, the scale product
    /// s_a·s_w once, and the fused multiply-add once: three roundings of relative size 2⁻²⁴,
    /// so |error| ≤ 2⁻²²·(|s_a·s_w·acc| + |bias|) holds with margin.
    static let relativeTolerance = 0x1p-22

    static func inputs(rows: Int, columns: Int, depth: Int, zeroPoint: Int32, seed: UInt64)
        -> (activations: [UInt8], weight: [Int8], scales: [Float], bias: [Float]) {
        var generator = SeededGenerator(seed: seed)
        var activations = (0..<rows * depth).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var weight = (0..<columns * depth).map { _ in Int8.random(in: -127...127, using: &generator) }
        // Extreme rows: the zero point everywhere (all-zero row), the grid ends; extreme
        // weight rows at ±127 and an all-zero weight row.
        for index in 0..<depth {
            if rows > 1 { activations[depth + index] = UInt8(zeroPoint) }
            if rows > 2 { activations[2 * depth + index] = 255 }
            if rows > 3 { activations[3 * depth + index] = 0 }
            if rows > 4 { activations[4 * depth + index] = index % 2 == 0 ? 0 : 255 }
            if columns > 1 { weight[depth + index] = 127 }
            if columns > 2 { weight[2 * depth + index] = -127 }
            if columns > 3 { weight[3 * depth + index] = 0 }
        }
        let scales = (0..<columns).map { _ in Float.random(in: 0.001...0.05, using: &generator) }
        return (activations, weight, scales, generator.floats(columns))
    }

    @Test(arguments: [(1, 1, 1), (3, 5, 7), (7, 33, 17), (5, 384, 50), (13, 130, 45), (50, 97, 33), (97, 384, 70),
                      (130, 1536, 20)])
    func accumulatorsAreExactOnEveryPathAndThreadCount(rows: Int, depth: Int, columns: Int) throws {
        for zeroPoint: Int32 in [0, 128, 255, 37] {
            let data = Self.inputs(rows: rows, columns: columns, depth: depth, zeroPoint: zeroPoint, seed: UInt64(rows * 1000 + depth))
            let expected = QuantizedReference.accumulators(activations: data.activations, rows: rows, depth: depth,
                                                           zeroPoint: zeroPoint, weight: data.weight, columns: columns)
            let weight = try PackedInt8Matrix(weight: data.weight, scales: data.scales, columns: columns, depth: depth)
            for threads in [1, 2, 3] {
                var output = [Int32](repeating: .min, count: rows * columns)
                data.activations.withUnsafeBufferPointer { input in
                    output.withUnsafeMutableBufferPointer {
                        QuantizedLinearKernel.accumulateW8A8(input: input.baseAddress!, rows: rows, zeroPoint: zeroPoint,
                                                             weight: weight, output: $0.baseAddress!, threads: threads)
                    }
                }
                #expect(output == expected, "threads \(threads), zero point \(zeroPoint)")
            }
            var portable = [Int32](repeating: .min, count: rows * columns)
            data.activations.withUnsafeBufferPointer { input in
                weight.storage.withUnsafeBufferPointer { packed in
                    weight.columnSums.withUnsafeBufferPointer { sums in
                        portable.withUnsafeMutableBufferPointer {
                            aimet_w8a8_gemm_s32_portable(rows, columns, depth, input.baseAddress!, depth, zeroPoint,
                                                         packed.baseAddress!, sums.baseAddress!, $0.baseAddress!, columns)
                        }
                    }
                }
            }
            #expect(portable == expected, "portable, zero point \(zeroPoint)")
        }
    }

    @Test(arguments: [(1, 7, 5), (6, 33, 17), (50, 384, 40), (101, 130, 33)])
    func floatOutputsMatchReferenceAndPortablePathBitForBit(rows: Int, depth: Int, columns: Int) throws {
        let zeroPoint: Int32 = 113, activationScale: Float = 0.037
        let data = Self.inputs(rows: rows, columns: columns, depth: depth, zeroPoint: zeroPoint, seed: UInt64(depth))
        let accumulators = QuantizedReference.accumulators(activations: data.activations, rows: rows, depth: depth,
                                                           zeroPoint: zeroPoint, weight: data.weight, columns: columns)
        let weight = try PackedInt8Matrix(weight: data.weight, scales: data.scales, columns: columns, depth: depth)
        var first: [Float]?
        for threads in [1, 2, 3] {
            var output = [Float](repeating: .nan, count: rows * columns)
            data.activations.withUnsafeBufferPointer { input in
                data.bias.withUnsafeBufferPointer { bias in
                    output.withUnsafeMutableBufferPointer {
                        QuantizedLinearKernel.applyW8A8(input: input.baseAddress!, rows: rows, activationScale: activationScale,
                                                        zeroPoint: zeroPoint, weight: weight, bias: bias.baseAddress,
                                                        output: $0.baseAddress!, threads: threads)
                    }
                }
            }
            for row in 0..<rows {
                for column in 0..<columns {
                    let product = Double(activationScale) * Double(data.scales[column]) * Double(accumulators[row * columns + column])
                    let expected = product + Double(data.bias[column])
                    let bound = Self.relativeTolerance * (abs(product) + abs(Double(data.bias[column])))
                    #expect(abs(Double(output[row * columns + column]) - expected) <= bound, "[\(row), \(column)]")
                }
            }
            if let first { #expect(output == first, "threads \(threads)") } else { first = output }
        }
        var portable = [Float](repeating: .nan, count: rows * columns)
        data.activations.withUnsafeBufferPointer { input in
            weight.storage.withUnsafeBufferPointer { packed in
                weight.columnSums.withUnsafeBufferPointer { sums in
                    data.scales.withUnsafeBufferPointer { scales in
                        data.bias.withUnsafeBufferPointer { bias in
                            portable.withUnsafeMutableBufferPointer {
                                aimet_w8a8_gemm_f32_portable(rows, columns, depth, input.baseAddress!, depth, activationScale,
                                                             zeroPoint, packed.baseAddress!, sums.baseAddress!, scales.baseAddress!,
                                                             bias.baseAddress!, $0.baseAddress!, columns)
                            }
                        }
                    }
                }
            }
        }
        #expect(portable == first)
    }

    @Test func packingRejectsMinus128AndWrongCounts() {
        #expect(throws: RuntimeError.self) {
            try PackedInt8Matrix(weight: [1, -128, 3, 4], scales: [1, 1], columns: 2, depth: 2)
        }
        #expect(throws: RuntimeError.self) { try PackedInt8Matrix(weight: [1, 2, 3], scales: [1, 1], columns: 2, depth: 2) }
        #expect(throws: RuntimeError.self) { try PackedInt8Matrix(weight: [1, 2, 3, 4], scales: [1], columns: 2, depth: 2) }
    }
}

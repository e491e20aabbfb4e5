import CKernels
import Foundation
@testable import Runtime
import QuantCore
import Testing

/// Which stored form a weight-only case uses.
enum WeightOnlyStorage: String, CaseIterable, Sendable {
    case int8Symmetric, int8WithZeroPoints, uint8Asymmetric, int4Symmetric, int4Asymmetric
}

@Suite struct QuantizedWeightOnlyTests {
    /// |y − reference| ≤ tolerance·(Σ_k |x_k|·(|q| + |z|)·s + |b|). The kernel sums each block
    /// (≤ 256 depths) in Float, folds the zero point once and the block into the output once;
    /// rounding errors of such sums grow like √n·2⁻²⁴ in practice (≈ 1e-6 here, measured
    /// below 1e-6), so 2e-5 holds with a wide margin while any misplaced weight, scale or
    /// zero point gives errors of order 1.
    static let tolerance = 2e-5

    struct Case: Sendable, CustomStringConvertible {
        let storage: WeightOnlyStorage
        let granularity: WeightScaleGranularity
        let rows: Int, depth: Int, columns: Int
        var description: String { "\(storage) \(granularity) \(rows)×\(depth)→\(columns)" }
    }

    static let cases: [Case] = {
        var cases: [Case] = []
        let shapes = [(1, 75, 33), (2, 384, 70), (7, 97, 17), (5, 64, 130), (50, 160, 45), (1, 1536, 40)]
        for storage in WeightOnlyStorage.allCases {
            for granularity in [WeightScaleGranularity.perChannel, .perBlock(size: 32), .perBlock(size: 64), .perBlock(size: 128)] {
                for (rows, depth, columns) in shapes {
                    cases.append(Case(storage: storage, granularity: granularity, rows: rows, depth: depth, columns: columns))
                }
            }
        }
        return cases
    }()

    /// Random weights of the case's kind with the extremes forced in: a zero row of weights,
    /// rows at both grid ends, and an all-zero input row.
    static func make(_ test: Case, seed: UInt64) throws -> (matrix: PackedWeightOnlyMatrix, values: [Int], scales: [Float],
                                                           zeroPoints: [Int32]?, input: [Float], bias: [Float]) {
        var generator = SeededGenerator(seed: seed)
        let rows = test.rows, depth = test.depth, columns = test.columns
        let range: ClosedRange<Int>
        switch test.storage {
        case .int8Symmetric, .int8WithZeroPoints: range = -128...127
        case .uint8Asymmetric: range = 0...255
        case .int4Symmetric: range = -8...7
        case .int4Asymmetric: range = 0...15
        }
        var values = (0..<columns * depth).map { _ in Int.random(in: range, using: &generator) }
        for index in 0..<depth {
            if columns > 1 { values[depth + index] = range.lowerBound }
            if columns > 2 { values[2 * depth + index] = range.upperBound }
            if columns > 3 { values[3 * depth + index] = 0 }
        }
        let scaleCount = test.granularity.scaleCount(columns: columns, depth: depth)
        let scales = (0..<scaleCount).map { _ in Float.random(in: 0.001...0.1, using: &generator) }
        let hasZeroPoints = [.int8WithZeroPoints, .uint8Asymmetric, .int4Asymmetric].contains(test.storage)
        let zeroPoints: [Int32]? = hasZeroPoints
            ? (0..<scaleCount).map { _ in Int32(Int.random(in: range, using: &generator)) } : nil
        var input = generator.floats(rows * depth, scale: 2)
        if rows > 1 { for index in 0..<depth { input[depth + index] = 0 } }
        let bias = generator.floats(columns)
        let matrix: PackedWeightOnlyMatrix
        switch test.storage {
        case .int8Symmetric, .int8WithZeroPoints:
            matrix = try PackedWeightOnlyMatrix(int8: values.map { Int8($0) }, columns: columns, depth: depth,
                                                granularity: test.granularity, scales: scales, zeroPoints: zeroPoints)
        case .uint8Asymmetric:
            matrix = try PackedWeightOnlyMatrix(uint8: values.map { UInt8($0) }, columns: columns, depth: depth,
                                                granularity: test.granularity, scales: scales, zeroPoints: zeroPoints!)
        case .int4Symmetric, .int4Asymmetric:
            // The compressed-model layout, built here independently of the kernel's packer.
            let rowBytes = (depth + 1) / 2
            var bytes = [UInt8](repeating: 0, count: columns * rowBytes)
            for column in 0..<columns {
                for index in 0..<depth {
                    let nibble = UInt8(truncatingIfNeeded: values[column * depth + index]) & 0x0F
                    bytes[column * rowBytes + index / 2] |= index % 2 == 0 ? nibble : nibble << 4
                }
            }
            let signed = test.storage == .int4Symmetric
            #expect(QuantizedReference.unpackInt4(bytes, columns: columns, depth: depth, signed: signed) == values)
            matrix = try PackedWeightOnlyMatrix(int4Packed: bytes, columns: columns, depth: depth,
                                                granularity: test.granularity, scales: scales, zeroPoints: zeroPoints)
        }
        return (matrix, values, scales, zeroPoints, input, bias)
    }

    @Test(arguments: cases)
    func matchesReferenceOnBothPathsForAnyThreadCount(_ test: Case) throws {
        let rows = test.rows, depth = test.depth, columns = test.columns
        let data = try Self.make(test, seed: UInt64(rows * 7919 + depth * 31 + columns))
        let (weights, magnitudes) = QuantizedReference.dequantize(values: data.values, columns: columns, depth: depth,
                                                                  granularity: test.granularity, scales: data.scales,
                                                                  zeroPoints: data.zeroPoints)
        var first: [Float]?
        for threads in [1, 2, 3] {
            var output = [Float](repeating: .nan, count: rows * columns)
            data.input.withUnsafeBufferPointer { input in
                data.bias.withUnsafeBufferPointer { bias in
                    output.withUnsafeMutableBufferPointer {
                        QuantizedLinearKernel.applyWeightOnly(input: input.baseAddress!, rows: rows, weight: data.matrix,
                                                              bias: bias.baseAddress, output: $0.baseAddress!, threads: threads)
                    }
                }
            }
            if let first { #expect(output == first, "threads \(threads)") } else { first = output }
        }
        var worst = 0.0
        for row in 0..<rows {
            for column in 0..<columns {
                var expected = Double(data.bias[column]), magnitude = abs(Double(data.bias[column]))
                for index in 0..<depth {
                    let x = Double(data.input[row * depth + index])
                    expected += x * weights[column * depth + index]
                    magnitude += abs(x) * magnitudes[column * depth + index]
                }
                worst = max(worst, abs(Double(first![row * columns + column]) - expected) / magnitude)
            }
        }
        #expect(worst <= Self.tolerance, "relative error \(worst)")
        // The portable path computes the same operations in the same order: identical bits.
        var portable = [Float](repeating: .nan, count: rows * columns)
        let matrix = data.matrix
        data.input.withUnsafeBufferPointer { input in
            matrix.storage.withUnsafeBufferPointer { packed in
                matrix.packedScales.withUnsafeBufferPointer { scales in
                    data.bias.withUnsafeBufferPointer { bias in
                        portable.withUnsafeMutableBufferPointer { output in
                            Self.withOptionalPointer(matrix.packedZeroPoints) { zeroPoints in
                                aimet_wo_gemm_portable(Int32(matrix.bits), rows, columns, depth, matrix.granularity.kernelBlock,
                                                       input.baseAddress!, depth, packed.baseAddress!, scales.baseAddress!,
                                                       zeroPoints, bias.baseAddress!, output.baseAddress!, columns)
                            }
                        }
                    }
                }
            }
        }
        #expect(portable == first, "portable path differs")
    }

    static func withOptionalPointer(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> Void) {
        guard let array else { return body(nil) }
        array.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    @Test func emptyDepthWritesTheBias() throws {
        let matrix = try PackedWeightOnlyMatrix(int8: [], columns: 3, depth: 0, granularity: .perChannel, scales: [1, 2, 3])
        var output = [Float](repeating: .nan, count: 6)
        let bias: [Float] = [1, 2, 3], input: [Float] = [0]
        input.withUnsafeBufferPointer { input in
            bias.withUnsafeBufferPointer { bias in
                output.withUnsafeMutableBufferPointer {
                    QuantizedLinearKernel.applyWeightOnly(input: input.baseAddress!, rows: 2, weight: matrix, bias: bias.baseAddress,
                                                          output: $0.baseAddress!, threads: 2)
                }
            }
        }
        #expect(output == [1, 2, 3, 1, 2, 3])
    }

    @Test func invalidShapesAndBlocksThrow() {
        #expect(throws: RuntimeError.self) {
            try PackedWeightOnlyMatrix(int8: [1, 2, 3, 4], columns: 2, depth: 2, granularity: .perBlock(size: 24), scales: [1, 1])
        }
        #expect(throws: RuntimeError.self) {
            try PackedWeightOnlyMatrix(int8: [1, 2, 3, 4], columns: 2, depth: 2, granularity: .perChannel, scales: [1])
        }
        #expect(throws: RuntimeError.self) {
            try PackedWeightOnlyMatrix(int4Packed: [1, 2, 3], columns: 2, depth: 4, granularity: .perChannel, scales: [1, 1])
        }
        #expect(throws: RuntimeError.self) {
            try PackedWeightOnlyMatrix(uint8: [1, 2], columns: 2, depth: 1, granularity: .perChannel, scales: [1, 1], zeroPoints: [0])
        }
    }
}

import CKernels
import Foundation
import QuantCore
@testable import Runtime
import Testing

/// The fused W8A8 layer (float input quantized in the kernel's prologue, output grid in its
/// epilogue) against the unfused steps it replaces: `quantizeActivations`, `applyW8A8`, then
/// `Quantizer.fakeQuantize` of the output. Bit for bit, on both paths, for any thread count.
@Suite struct QuantizedFusedLinearTests {
    static func inputs(rows: Int, depth: Int, columns: Int, seed: UInt64)
        -> (input: [Float], weight: [Int8], scales: [Float], bias: [Float]) {
        var generator = SeededGenerator(seed: seed)
        var input = generator.floats(rows * depth, scale: 6)
        // Off-grid extremes, exact ties of the grid, NaN and infinities in the first rows.
        let specials: [Float] = [1e6, -1e6, 0.05, 0.15, -0.25, .nan, .infinity, -.infinity, 0, -0.0]
        for (index, value) in specials.enumerated() where index < input.count { input[index] = value }
        let weight = (0..<columns * depth).map { _ in Int8.random(in: -127...127, using: &generator) }
        let scales = (0..<columns).map { _ in Float.random(in: 0.001...0.05, using: &generator) }
        return (input, weight, scales, generator.floats(columns))
    }

    /// What the fused call replaces, step by step.
    static func unfused(input: [Float], rows: Int, scale: Float, zeroPoint: Int32, matrix: PackedInt8Matrix,
                        bias: [Float]?, encoding: Encoding?) throws -> [Float] {
        var codes = [UInt8](repeating: 0, count: input.count)
        var output = [Float](repeating: .nan, count: rows * matrix.columns)
        input.withUnsafeBufferPointer { input in
            codes.withUnsafeMutableBufferPointer { codes in
                aimet_quantize_activations_u8_portable(input.baseAddress!, input.count, scale, zeroPoint, codes.baseAddress!)
                Self.withOptional(bias) { bias in
                    output.withUnsafeMutableBufferPointer {
                        QuantizedLinearKernel.applyW8A8(input: codes.baseAddress!, rows: rows, activationScale: scale,
                                                        zeroPoint: zeroPoint, weight: matrix, bias: bias,
                                                        output: $0.baseAddress!, threads: 1)
                    }
                }
            }
        }
        guard let encoding else { return output }
        return try Quantizer.fakeQuantize(Tensor(shape: [rows, matrix.columns], scalars: output), with: encoding).scalars
    }

    static func withOptional(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> Void) {
        guard let values else { return body(nil) }
        values.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    static func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    @Test(arguments: [(1, 7, 5), (3, 33, 17), (7, 384, 50), (50, 97, 33), (61, 130, 20), (130, 384, 45)])
    func fusedLayerMatchesTheUnfusedStepsBitForBit(rows: Int, depth: Int, columns: Int) throws {
        let data = Self.inputs(rows: rows, depth: depth, columns: columns, seed: UInt64(rows * 7 + depth))
        let matrix = try PackedInt8Matrix(weight: data.weight, scales: data.scales, columns: columns, depth: depth)
        let eightBit = try Encoding(scheme: QuantScheme(bits: 8, symmetry: .asymmetric, granularity: .perTensor),
                                    scaleShape: [], scales: [0.0371], zeroPoints: [131])
        let sixteenBit = try Encoding(scheme: QuantScheme(bits: 16, symmetry: .symmetric, granularity: .perTensor),
                                      scaleShape: [], scales: [0.00017], zeroPoints: [0])
        for (scale, zeroPoint) in [(Float(0.043), Int32(113)), (0.02, 0), (0.5, 255)] {
            for encoding in [nil, eightBit, sixteenBit] {
                for bias in [data.bias, nil] {
                    let expected = try Self.unfused(input: data.input, rows: rows, scale: scale, zeroPoint: zeroPoint,
                                                    matrix: matrix, bias: bias, encoding: encoding)
                    let grid = encoding.map { encoding in
                        QuantizedOutputGrid(scale: encoding.scales[0],
                                            low: Float(encoding.scheme.quantizedRange.lowerBound - encoding.zeroPoints[0]),
                                            high: Float(encoding.scheme.quantizedRange.upperBound - encoding.zeroPoints[0]))
                    }
                    for threads in [1, 2, 3] {
                        var output = [Float](repeating: .nan, count: rows * columns)
                        data.input.withUnsafeBufferPointer { input in
                            Self.withOptional(bias) { bias in
                                output.withUnsafeMutableBufferPointer {
                                    QuantizedLinearKernel.applyW8A8(floatInput: input.baseAddress!, rows: rows, activationScale: scale,
                                                                    zeroPoint: zeroPoint, weight: matrix, bias: bias, outputGrid: grid,
                                                                    output: $0.baseAddress!, threads: threads)
                                }
                            }
                        }
                        #expect(Self.bits(output) == Self.bits(expected),
                                "threads \(threads), zero point \(zeroPoint), grid \(String(describing: grid)), bias \(bias != nil)")
                    }
                    var portable = [Float](repeating: .nan, count: rows * columns)
                    var cGrid = aimet_w8a8_output_grid(scale: grid?.scale ?? 1, low: grid?.low ?? 0, high: grid?.high ?? 0)
                    let useGrid = grid != nil
                    data.input.withUnsafeBufferPointer { input in
                        matrix.storage.withUnsafeBufferPointer { packed in
                            matrix.columnSums.withUnsafeBufferPointer { sums in
                                data.scales.withUnsafeBufferPointer { scales in
                                    Self.withOptional(bias) { bias in
                                        withUnsafePointer(to: &cGrid) { cGrid in
                                            portable.withUnsafeMutableBufferPointer {
                                                aimet_w8a8_linear_f32_portable(rows, columns, depth, input.baseAddress!, depth, scale,
                                                                               zeroPoint, packed.baseAddress!, sums.baseAddress!,
                                                                               scales.baseAddress!, bias, useGrid ? cGrid : nil,
                                                                               $0.baseAddress!, columns)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    #expect(Self.bits(portable) == Self.bits(expected), "portable, zero point \(zeroPoint)")
                }
            }
        }
    }

    @Test(arguments: [(8, Symmetry.asymmetric, Int32(77), Float(0.0213)), (8, .symmetric, 0, 0.5),
                      (16, .asymmetric, 1234, 0.000731), (16, .symmetric, 0, 0.00017), (4, .asymmetric, 3, 0.7)])
    func fakeQuantizationMatchesQuantCoreBitForBit(bits: Int, symmetry: Symmetry, zeroPoint: Int32,
                                                    scale: Float) throws {
        let encoding = try Encoding(scheme: QuantScheme(bits: bits, symmetry: symmetry, granularity: .perTensor),
                                    scaleShape: [], scales: [scale], zeroPoints: [zeroPoint])
        var generator = SeededGenerator(seed: UInt64(bits) * 31 + UInt64(zeroPoint))
        var values = generator.floats(70_001, scale: 3 * Float(1 << (bits - 1)) * scale)
        let ties = (0..<40).map { Float($0 - 20) * scale * 0.5 } // exact halves of the grid
        values.replaceSubrange(0..<ties.count, with: ties)
        values.replaceSubrange(40..<47, with: [.nan, .infinity, -.infinity, 0, -0.0, 1e30, -1e30])
        let expected = try Quantizer.fakeQuantize(Tensor(shape: [values.count], scalars: values), with: encoding).scalars
        let range = encoding.scheme.quantizedRange
        let grid = QuantizedOutputGrid(scale: scale, low: Float(range.lowerBound - zeroPoint), high: Float(range.upperBound - zeroPoint))
        for threads in [1, 3] {
            var fast = values
            fast.withUnsafeMutableBufferPointer {
                QuantizedLinearKernel.fakeQuantize($0.baseAddress!, count: $0.count, grid: grid, threads: threads)
            }
            #expect(Self.bits(fast) == Self.bits(expected), "threads \(threads)")
        }
        var portable = values
        var cGrid = aimet_w8a8_output_grid(scale: grid.scale, low: grid.low, high: grid.high)
        portable.withUnsafeMutableBufferPointer { aimet_fake_quantize_f32_portable($0.baseAddress!, $0.count, &cGrid) }
        #expect(Self.bits(portable) == Self.bits(expected))
    }
}

import CKernels
import Foundation
import QuantCore
@testable import Runtime
import Testing

/// The W8A16 kernel (16-bit input quantized in the prologue × int8 weights, exact sums)
/// against a plain reference: QuantCore's `Quantizer.quantize` for the codes, exact Int64 dot
/// products, then the scale in Double. Also: AVX2 = portable bit for bit, 1/2/3 threads
/// identical, no overflow at the extremes of both grids.
@Suite struct QuantizedW8A16KernelTests {
    /// The two 16-bit grids the calibrator produces: unsigned with a zero point, and signed.
    static let asymmetric = try! Encoding(scheme: QuantScheme(bits: 16, symmetry: .asymmetric, granularity: .perTensor),
                                          scaleShape: [], scales: [0.00021], zeroPoints: [30_123])
    static let symmetric = try! Encoding(scheme: QuantScheme(bits: 16, symmetry: .symmetric, granularity: .perTensor),
                                         scaleShape: [], scales: [0.00017], zeroPoints: [0])

    static func grid(_ encoding: Encoding) throws -> SixteenBitInputGrid {
        try SixteenBitInputGrid(scale: encoding.scales[0], zeroPoint: encoding.zeroPoints[0], range: encoding.scheme.quantizedRange)
    }

    static func data(rows: Int, depth: Int, columns: Int, inputScale: Float, seed: UInt64)
        -> (input: [Float], weight: [Int8], scales: [Float], bias: [Float]) {
        var generator = SeededGenerator(seed: seed)
        // Inputs up to ±10 000 steps of the grid (some beyond the grid's end, which clamps),
        // with NaN, infinities, signed zeros and exact ties in the first values.
        var input = generator.floats(rows * depth, scale: 40_000 * inputScale)
        let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 2.5 * inputScale, -3.5 * inputScale, 1e30]
        for (index, value) in specials.enumerated() where index < input.count { input[index] = value }
        let weight = (0..<columns * depth).map { _ in Int8.random(in: -127...127, using: &generator) }
        let scales = (0..<columns).map { _ in Float.random(in: 0.001...0.05, using: &generator) }
        return (input, weight, scales, generator.floats(columns))
    }

    /// Exact Σ_k (q − zeroPoint)·W[j, k] with q from `Quantizer.quantize`.
    static func referenceSums(input: [Float], rows: Int, depth: Int, weight: [Int8], columns: Int, encoding: Encoding) throws -> [Int64] {
        let codes = try Quantizer.quantize(Tensor(shape: [input.count], scalars: input), with: encoding)
        let zeroPoint = Int64(encoding.zeroPoints[0])
        var sums = [Int64](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            for column in 0..<columns {
                var sum: Int64 = 0
                for index in 0..<depth { sum += (Int64(codes[row * depth + index]) - zeroPoint) * Int64(weight[column * depth + index]) }
                sums[row * columns + column] = sum
            }
        }
        return sums
    }

    static func sums(_ input: [Float], rows: Int, grid: SixteenBitInputGrid, matrix: PackedW8A16Matrix, threads: Int) -> [Int64] {
        var output = [Int64](repeating: .min, count: rows * matrix.columns)
        input.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer {
                QuantizedLinearKernel.accumulateW8A16(floatInput: input.baseAddress!, rows: rows, inputGrid: grid, weight: matrix,
                                                      output: $0.baseAddress!, threads: threads)
            }
        }
        return output
    }

    static func outputs(_ input: [Float], rows: Int, grid: SixteenBitInputGrid, matrix: PackedW8A16Matrix, bias: [Float]?,
                        outputGrid: QuantizedOutputGrid? = nil, threads: Int) -> [Float] {
        var output = [Float](repeating: .nan, count: rows * matrix.columns)
        input.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { buffer in
                let output = buffer.baseAddress!
                func run(_ bias: UnsafePointer<Float>?) {
                    QuantizedLinearKernel.applyW8A16(floatInput: input.baseAddress!, rows: rows, inputGrid: grid, weight: matrix,
                                                     bias: bias, outputGrid: outputGrid, output: output, threads: threads)
                }
                if let bias { bias.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
            }
        }
        return output
    }

    // Depths around the 2-depth pairs and the 512-depth flush block; rows around the 6-row
    // micro-kernel, the 60-row chunk and the 48-row column/row split; columns around 16.
    @Test(arguments: [(1, 1, 1), (7, 3, 17), (13, 513, 33), (61, 1025, 16), (5, 2, 40), (130, 384, 45), (49, 1536, 7)])
    func matchesExactIntegerReference(rows: Int, depth: Int, columns: Int) throws {
        for encoding in [Self.asymmetric, Self.symmetric] {
            let data = Self.data(rows: rows, depth: depth, columns: columns, inputScale: encoding.scales[0], seed: UInt64(rows * 31 + depth))
            let matrix = try PackedW8A16Matrix(weight: data.weight, scales: data.scales, columns: columns, depth: depth)
            let grid = try Self.grid(encoding)
            let expected = try Self.referenceSums(input: data.input, rows: rows, depth: depth, weight: data.weight, columns: columns,
                                                  encoding: encoding)
            #expect(Self.sums(data.input, rows: rows, grid: grid, matrix: matrix, threads: 2) == expected, "\(encoding.scheme)")
            let output = Self.outputs(data.input, rows: rows, grid: grid, matrix: matrix, bias: data.bias, threads: 2)
            var worst = 0.0
            for row in 0..<rows {
                for column in 0..<columns {
                    let product = Double(expected[row * columns + column]) * Double(encoding.scales[0]) * Double(data.scales[column])
                    let reference = product + Double(data.bias[column])
                    let error = abs(Double(output[row * columns + column]) - reference) / max(abs(product) + abs(Double(data.bias[column])), 1e-30)
                    worst = max(worst, error)
                }
            }
            #expect(worst <= 1e-6, "\(encoding.scheme): relative error \(worst)")
        }
    }

    @Test(arguments: [(1, 1, 1), (7, 3, 17), (13, 513, 33), (61, 1025, 20)])
    func avx2AndPortablePathsAgreeBitForBit(rows: Int, depth: Int, columns: Int) throws {
        for encoding in [Self.asymmetric, Self.symmetric] {
            let data = Self.data(rows: rows, depth: depth, columns: columns, inputScale: encoding.scales[0], seed: UInt64(depth))
            let matrix = try PackedW8A16Matrix(weight: data.weight, scales: data.scales, columns: columns, depth: depth)
            var grid = try Self.grid(encoding).cGrid
            var outputGrid = aimet_w8a8_output_grid(scale: 0.013, low: -128, high: 127)
            var fast = [Float](repeating: .nan, count: rows * columns), portable = fast
            var fastSums = [Int64](repeating: 0, count: rows * columns), portableSums = fastSums
            var fastCodes = [Int16](repeating: 0, count: data.input.count), portableCodes = fastCodes
            matrix.storage.withUnsafeBufferPointer { packed in
                matrix.columnSums.withUnsafeBufferPointer { sums in
                    withUnsafePointer(to: &outputGrid) { outputGrid in
                        for gridPointer in [nil, outputGrid] {
                            aimet_w8a16_linear_f32(rows, columns, depth, data.input, depth, &grid, packed.baseAddress,
                                                   sums.baseAddress, data.scales, data.bias, gridPointer, &fast, columns)
                            aimet_w8a16_linear_f32_portable(rows, columns, depth, data.input, depth, &grid, packed.baseAddress,
                                                            sums.baseAddress, data.scales, data.bias, gridPointer, &portable, columns)
                            #expect(fast.map(\.bitPattern) == portable.map(\.bitPattern), "grid \(gridPointer != nil)")
                        }
                    }
                    aimet_w8a16_linear_s64(rows, columns, depth, data.input, depth, &grid, packed.baseAddress, sums.baseAddress,
                                           &fastSums, columns)
                    aimet_w8a16_linear_s64_portable(rows, columns, depth, data.input, depth, &grid, packed.baseAddress,
                                                    sums.baseAddress, &portableSums, columns)
                }
            }
            aimet_quantize_activations_16(data.input, data.input.count, &grid, &fastCodes)
            aimet_quantize_activations_16_portable(data.input, data.input.count, &grid, &portableCodes)
            #expect(fastSums == portableSums)
            #expect(fastCodes == portableCodes)
            // The prologue's codes are QuantCore's, shifted by the grid's offset.
            let offset = Int32(aimet_input_grid16_offset(&grid))
            let codes = try Quantizer.quantize(Tensor(shape: [data.input.count], scalars: data.input), with: encoding)
            #expect(fastCodes.map { Int32($0) + offset } == codes)
        }
    }

    /// Every input at an end of the grid and every weight at ±127 over 4096+ depths: the sums
    /// reach ±1.7·10¹⁰ to ±4.2·10¹⁰ (int32 holds ±2.1·10⁹), so any overflow in the blocks would show.
    @Test(arguments: [4096, 4099, 5000])
    func extremeValuesDoNotOverflow(depth: Int) throws {
        let columns = 19, rows = 7
        // Column j: all +127, all −127, or alternating signs.
        let weight = (0..<columns * depth).map { index -> Int8 in
            switch (index / depth) % 3 {
            case 0: return 127
            case 1: return -127
            default: return index % 2 == 0 ? 127 : -127
            }
        }
        let matrix = try PackedW8A16Matrix(weight: weight, scales: Array(repeating: 1e-6, count: columns), columns: columns, depth: depth)
        let unsignedLow = try Encoding(scheme: QuantScheme(bits: 16, symmetry: .asymmetric, granularity: .perTensor),
                                       scaleShape: [], scales: [0.5], zeroPoints: [0])
        let unsignedHigh = try Encoding(scheme: QuantScheme(bits: 16, symmetry: .asymmetric, granularity: .perTensor),
                                        scaleShape: [], scales: [0.5], zeroPoints: [65_535])
        for encoding in [Self.symmetric, unsignedLow, unsignedHigh] {
            let scale = encoding.scales[0]
            // Row r: every input at the top, at the bottom, alternating, or far beyond (clamped).
            let input = (0..<rows * depth).map { index -> Float in
                switch index / depth {
                case 0, 4: return 32_767 * scale * 3
                case 1, 5: return -32_767 * scale * 3
                case 2: return index % 2 == 0 ? 1e9 : -1e9
                default: return index % 3 == 0 ? -.infinity : .infinity
                }
            }
            let expected = try Self.referenceSums(input: input, rows: rows, depth: depth, weight: weight, columns: columns, encoding: encoding)
            #expect(expected.map(\.magnitude).max()! > 7 * UInt64(Int32.max), "the test reaches far past int32")
            let grid = try Self.grid(encoding)
            #expect(Self.sums(input, rows: rows, grid: grid, matrix: matrix, threads: 1) == expected, "\(encoding)")
            let output = Self.outputs(input, rows: rows, grid: grid, matrix: matrix, bias: nil, threads: 1)
            for (value, sum) in zip(output, expected) {
                let reference = Double(sum) * Double(scale) * 1e-6
                #expect(abs(Double(value) - reference) <= 1e-6 * abs(reference))
            }
        }
    }

    @Test(arguments: [(5, 384, 100), (47, 200, 64), (48, 130, 33), (200, 384, 50), (300, 1536, 20)])
    func resultsDoNotDependOnTheThreadCount(rows: Int, depth: Int, columns: Int) throws {
        let data = Self.data(rows: rows, depth: depth, columns: columns, inputScale: Self.asymmetric.scales[0], seed: 7)
        let matrix = try PackedW8A16Matrix(weight: data.weight, scales: data.scales, columns: columns, depth: depth)
        let grid = try Self.grid(Self.asymmetric)
        let outputGrid = QuantizedOutputGrid(scale: 0.02, low: -127, high: 127)
        let runs = [1, 2, 3].map { Self.outputs(data.input, rows: rows, grid: grid, matrix: matrix, bias: data.bias, outputGrid: outputGrid,
                                                threads: $0).map(\.bitPattern) }
        #expect(runs[0] == runs[1] && runs[1] == runs[2])
        let sums = [1, 2, 3].map { Self.sums(data.input, rows: rows, grid: grid, matrix: matrix, threads: $0) }
        #expect(sums[0] == sums[1] && sums[1] == sums[2])
    }

    /// The output grid in the epilogue gives what `fakeQuantize` gives on the plain output.
    @Test func fusedOutputGridEqualsFakeQuantizingAfterwards() throws {
        let rows = 37, depth = 700, columns = 50
        let data = Self.data(rows: rows, depth: depth, columns: columns, inputScale: Self.symmetric.scales[0], seed: 11)
        let matrix = try PackedW8A16Matrix(weight: data.weight, scales: data.scales, columns: columns, depth: depth)
        let grid = try Self.grid(Self.symmetric)
        let outputEncoding = try Encoding(scheme: QuantScheme(bits: 8, symmetry: .asymmetric, granularity: .perTensor),
                                          scaleShape: [], scales: [0.7], zeroPoints: [120])
        let outputGrid = QuantizedOutputGrid(scale: 0.7, low: -120, high: 135)
        let fused = Self.outputs(data.input, rows: rows, grid: grid, matrix: matrix, bias: data.bias, outputGrid: outputGrid, threads: 2)
        let plain = Self.outputs(data.input, rows: rows, grid: grid, matrix: matrix, bias: data.bias, threads: 2)
        let expected = try Quantizer.fakeQuantize(Tensor(shape: [rows, columns], scalars: plain), with: outputEncoding).scalars
        #expect(fused.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test func badWeightsAndGridsAreRejected() throws {
        #expect(throws: RuntimeError.self) { try PackedW8A16Matrix(weight: [1, -128], scales: [1], columns: 1, depth: 2) }
        #expect(throws: RuntimeError.self) { try PackedW8A16Matrix(weight: [1, 2, 3], scales: [1], columns: 1, depth: 2) }
        #expect(throws: RuntimeError.self) { try PackedW8A16Matrix(weight: [1, 2], scales: [1, 1], columns: 1, depth: 2) }
        #expect(throws: RuntimeError.self) { try SixteenBitInputGrid(scale: 0, zeroPoint: 0, range: 0...65535) }
        #expect(throws: RuntimeError.self) { try SixteenBitInputGrid(scale: .nan, zeroPoint: 0, range: 0...65535) }
        #expect(throws: RuntimeError.self) { try SixteenBitInputGrid(scale: 1, zeroPoint: 70_000, range: 0...65535) }
        #expect(throws: RuntimeError.self) { try SixteenBitInputGrid(scale: 1, zeroPoint: 0, range: 0...131_071) }
        #expect(throws: RuntimeError.self) { try SixteenBitInputGrid(scale: 1, zeroPoint: 0, range: -40_000...40_000) }
        #expect(throws: Never.self) { try SixteenBitInputGrid(scale: 1, zeroPoint: 0, range: -32_767...32_767) }
        #expect(throws: Never.self) { try SixteenBitInputGrid(scale: 1, zeroPoint: 2000, range: 0...4095) }
    }
}

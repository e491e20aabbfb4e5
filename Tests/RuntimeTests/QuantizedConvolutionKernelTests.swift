import CKernels
import ModelGraph
import QuantCore
@testable import Runtime
import Testing

/// The integer convolution kernels against plain references: the W8A8 paths (dense im2col,
/// pointwise, direct depthwise) bit for bit against an exact integer reference with the same
/// epilogue, the weight-only paths within a float tolerance of the fp32 reference on the
/// dequantized weights; AVX2 against portable paths and thread counts bit for bit.
@Suite("Quantized convolution kernels")
struct QuantizedConvolutionKernelTests {
    struct Case: Sendable, CustomStringConvertible {
        var channels: Int
        var outputs: Int
        var kernel: Int
        var stride: Int
        var dilation: Int = 1
        var padding: Padding2D
        var depthwise: Bool
        var description: String { "\(depthwise ? "dw" : "dense") c\(channels)→\(outputs) k\(kernel) s\(stride) d\(dilation) \(padding)" }
    }

    static let cases: [Case] = [
        Case(channels: 32, outputs: 32, kernel: 3, stride: 1, padding: .symmetric(1, 1), depthwise: true),
        Case(channels: 21, outputs: 21, kernel: 3, stride: 2, padding: .same, depthwise: true),
        Case(channels: 8, outputs: 16, kernel: 3, stride: 1, dilation: 2, padding: .explicit(top: 0, bottom: 2, left: 1, right: 0), depthwise: true),
        Case(channels: 16, outputs: 16, kernel: 5, stride: 2, padding: .same, depthwise: true),
        Case(channels: 3, outputs: 16, kernel: 3, stride: 2, padding: .same, depthwise: false),
        Case(channels: 12, outputs: 20, kernel: 1, stride: 1, padding: .symmetric(0, 0), depthwise: false),
        Case(channels: 10, outputs: 33, kernel: 3, stride: 1, dilation: 2, padding: .symmetric(2, 2), depthwise: false),
    ]

    static let activationScale: Float = 0.03125 * 0.7
    static let zeroPoint: Int32 = 97

    /// Inputs on the activation grid (so the kernel's quantizer gives back `codes`), int8
    /// weights with per-channel scales, and a bias.
    struct Operands {
        var shape: ConvolutionShape
        var codes: [Int32]
        var input: [Float]
        var weights: [Int8]
        var scales: [Float]
        var bias: [Float]
        var groups: Int
        var taps: Int
    }

    static func operands(_ testCase: Case, weightRange: ClosedRange<Int8> = -127...127) -> Operands {
        let (batch, height, width) = (2, 9, 11)
        let window = Window2D(height: testCase.kernel, width: testCase.kernel, strideHeight: testCase.stride,
                              strideWidth: testCase.stride, dilationHeight: testCase.dilation,
                              dilationWidth: testCase.dilation, padding: testCase.padding)
        let shape = ConvolutionShape(batch: batch, inputHeight: height, inputWidth: width, inputChannels: testCase.channels,
                                     outputChannels: testCase.outputs, window: window,
                                     placement: window.placement(inputHeight: height, inputWidth: width)!)
        var generator = SeededGenerator(seed: 11)
        let codes = (0..<(batch * height * width * testCase.channels)).map { _ in Int32.random(in: 0...255, using: &generator) }
        let input = codes.map { Float($0 - zeroPoint) * activationScale }
        let groups = testCase.depthwise ? testCase.channels : 1
        let taps = testCase.kernel * testCase.kernel
        let weights = (0..<(testCase.outputs * taps * testCase.channels / groups)).map { _ in Int8.random(in: weightRange, using: &generator) }
        let scales = (0..<testCase.outputs).map { _ in Float.random(in: 0.001...0.02, using: &generator) }
        let bias = (0..<testCase.outputs).map { _ in Float.random(in: -1...1, using: &generator) }
        return Operands(shape: shape, codes: codes, input: input, weights: weights, scales: scales, bias: bias, groups: groups, taps: taps)
    }

    /// Exact integer sums (padding contributes 0) with the kernels' epilogue fma(acc, s_a·s_w, bias).
    static func integerReference(_ operands: Operands) -> [Float] {
        let shape = operands.shape, window = shape.window, placement = shape.placement
        let groupInputs = shape.inputChannels / operands.groups, groupOutputs = shape.outputChannels / operands.groups
        var output = [Float](repeating: 0, count: shape.outputPixels * shape.outputChannels)
        for image in 0..<shape.batch {
            for outputY in 0..<placement.outputHeight {
                for outputX in 0..<placement.outputWidth {
                    for channel in 0..<shape.outputChannels {
                        let group = channel / groupOutputs
                        var sum = 0
                        for kernelY in 0..<window.height {
                            for kernelX in 0..<window.width {
                                let inputY = outputY * window.strideHeight - placement.padTop + kernelY * window.dilationHeight
                                let inputX = outputX * window.strideWidth - placement.padLeft + kernelX * window.dilationWidth
                                guard inputY >= 0, inputY < shape.inputHeight, inputX >= 0, inputX < shape.inputWidth else { continue }
                                for inputChannel in 0..<groupInputs {
                                    let code = operands.codes[((image * shape.inputHeight + inputY) * shape.inputWidth + inputX) * shape.inputChannels
                                                              + group * groupInputs + inputChannel]
                                    let weight = operands.weights[((channel * window.height + kernelY) * window.width + kernelX) * groupInputs + inputChannel]
                                    sum += Int(code - zeroPoint) * Int(weight)
                                }
                            }
                        }
                        let pixel = (image * placement.outputHeight + outputY) * placement.outputWidth + outputX
                        // addingProduct is a fused multiply-add, as the kernels' epilogue.
                        output[pixel * shape.outputChannels + channel] =
                            operands.bias[channel].addingProduct(Float(sum), activationScale * operands.scales[channel])
                    }
                }
            }
        }
        return output
    }

    static func kernel(_ testCase: Case, _ operands: Operands, integer: Bool, bits: Int = 8) throws -> QuantizedConvolution {
        if testCase.depthwise {
            let filter = try QuantizedDepthwiseFilter(weight: operands.weights, scales: operands.scales, outputChannels: testCase.outputs,
                                                      kernelHeight: testCase.kernel, kernelWidth: testCase.kernel,
                                                      multiplier: testCase.outputs / testCase.channels)
            return integer ? .depthwiseInteger(filter, activationScale: activationScale, zeroPoint: zeroPoint, outputGrid: nil)
                : .depthwiseWeightOnly(filter)
        }
        let depth = operands.taps * testCase.channels
        if integer {
            return .dense(.integer(try PackedInt8Matrix(weight: operands.weights, scales: operands.scales, columns: testCase.outputs, depth: depth),
                                   activationScale: activationScale, zeroPoint: zeroPoint))
        }
        if bits == 4 {
            // Rows of ⌈depth / 2⌉ bytes: an odd depth gets a zero nibble at the end of each row.
            let paddedDepth = depth + depth % 2
            let values: [Int32] = (0..<testCase.outputs).flatMap { row -> [Int32] in
                let weights: [Int32] = operands.weights[(row * depth)..<((row + 1) * depth)].map { Int32($0) }
                return depth % 2 == 0 ? weights : weights + [0]
            }
            let packed = try Int4Packing.pack(values, shape: [testCase.outputs, paddedDepth], signed: true)
            return .dense(.weightOnly(try PackedWeightOnlyMatrix(int4Packed: packed, columns: testCase.outputs, depth: depth,
                                                                 granularity: .perChannel, scales: operands.scales)))
        }
        return .dense(.weightOnly(try PackedWeightOnlyMatrix(int8: operands.weights, columns: testCase.outputs, depth: depth,
                                                             granularity: .perChannel, scales: operands.scales)))
    }

    static func run(_ convolution: QuantizedConvolution, _ operands: Operands, threads: Int) -> [Float] {
        var output = [Float](repeating: .nan, count: operands.shape.outputPixels * operands.shape.outputChannels)
        operands.input.withUnsafeBufferPointer { input in
            operands.bias.withUnsafeBufferPointer { bias in
                output.withUnsafeMutableBufferPointer { output in
                    QuantizedConvolutionKernel.apply(input: input.baseAddress!, shape: operands.shape, convolution: convolution,
                                                     bias: bias.baseAddress!, output: output.baseAddress!, threads: threads)
                }
            }
        }
        return output
    }

    @Test(arguments: cases)
    func integerKernelsMatchTheExactReference(_ testCase: Case) throws {
        let operands = Self.operands(testCase)
        let convolution = try Self.kernel(testCase, operands, integer: true)
        let expected = Self.integerReference(operands)
        for threads in [1, 3] {
            let produced = Self.run(convolution, operands, threads: threads)
            #expect(produced.map(\.bitPattern) == expected.map(\.bitPattern), "threads \(threads)")
        }
    }

    @Test(arguments: cases)
    func weightOnlyKernelsFollowTheFloatReference(_ testCase: Case) throws {
        for bits in testCase.depthwise ? [8] : [8, 4] {
            let operands = Self.operands(testCase, weightRange: bits == 4 ? -8...7 : -127...127)
            let convolution = try Self.kernel(testCase, operands, integer: false, bits: bits)
            let dequantized = operands.weights.enumerated().map { index, value in
                Float(value) * operands.scales[index / (operands.weights.count / testCase.outputs)]
            }
            let expected = ConvolutionKernel.reference(input: operands.input, shape: operands.shape, weight: dequantized,
                                                       groups: operands.groups, bias: operands.bias)
            let single = Self.run(convolution, operands, threads: 1)
            let largest = expected.map { abs($0) }.max()!
            let difference = zip(single, expected).map { abs($0 - $1) }.max()!
            // fp32 sums of ≤ 300 products: a few ulps of the largest partial sum.
            #expect(difference <= 2e-5 * largest, "\(bits)-bit: max |Δ| \(difference) of \(largest)")
            #expect(Self.run(convolution, operands, threads: 3).map(\.bitPattern) == single.map(\.bitPattern))
        }
    }

    /// The depthwise C kernels' AVX2 paths against their portable twins, with an output grid.
    @Test(arguments: cases.filter(\.depthwise))
    func depthwiseVectorPathsEqualPortablePaths(_ testCase: Case) throws {
        let operands = Self.operands(testCase)
        let filter = try QuantizedDepthwiseFilter(weight: operands.weights, scales: operands.scales, outputChannels: testCase.outputs,
                                                  kernelHeight: testCase.kernel, kernelWidth: testCase.kernel,
                                                  multiplier: testCase.outputs / testCase.channels)
        var geometry = QuantizedConvolutionKernel.depthwiseGeometry(operands.shape, filter: filter)
        var grid = aimet_w8a8_output_grid(scale: 0.05, low: -100, high: 120)
        let rows = operands.shape.batch * operands.shape.placement.outputHeight
        let count = operands.shape.outputPixels * testCase.outputs
        let codes = operands.codes.map { UInt8($0) }
        let combined = operands.scales.map { Self.activationScale * $0 }
        var results = [[Float]](repeating: [Float](repeating: .nan, count: count), count: 4)
        results[0].withUnsafeMutableBufferPointer { output in
            aimet_depthwise_w8a8_f32(&geometry, 0, rows, codes, Self.zeroPoint, filter.weights, combined, operands.bias, &grid, output.baseAddress)
        }
        results[1].withUnsafeMutableBufferPointer { output in
            aimet_depthwise_w8a8_f32_portable(&geometry, 0, rows, codes, Self.zeroPoint, filter.weights, combined, operands.bias, &grid,
                                              output.baseAddress)
        }
        results[2].withUnsafeMutableBufferPointer { output in
            aimet_depthwise_wo_f32(&geometry, 0, rows, operands.input, filter.weights, operands.scales, operands.bias, output.baseAddress)
        }
        results[3].withUnsafeMutableBufferPointer { output in
            aimet_depthwise_wo_f32_portable(&geometry, 0, rows, operands.input, filter.weights, operands.scales, operands.bias,
                                            output.baseAddress)
        }
        #expect(results[0].map(\.bitPattern) == results[1].map(\.bitPattern))
        #expect(results[2].map(\.bitPattern) == results[3].map(\.bitPattern))
        // The grid in the epilogue is the vectorised fake quantization applied afterwards.
        var unfused = Self.integerReference(operands)
        unfused.withUnsafeMutableBufferPointer {
            QuantizedLinearKernel.fakeQuantize($0.baseAddress!, count: count,
                                               grid: QuantizedOutputGrid(scale: grid.scale, low: grid.low, high: grid.high), threads: 1)
        }
        #expect(results[0].map(\.bitPattern) == unfused.map(\.bitPattern))
    }

    @Test func badFiltersAreNamedErrors() {
        #expect(throws: RuntimeError.self) {
            _ = try QuantizedDepthwiseFilter(weight: [1, 2, 3], scales: [1], outputChannels: 1, kernelHeight: 2, kernelWidth: 2, multiplier: 1)
        }
        #expect(throws: RuntimeError.self) {
            _ = try QuantizedDepthwiseFilter(weight: [Int8](repeating: 1, count: 8), scales: [1], outputChannels: 2, kernelHeight: 2,
                                             kernelWidth: 2, multiplier: 1)
        }
    }
}

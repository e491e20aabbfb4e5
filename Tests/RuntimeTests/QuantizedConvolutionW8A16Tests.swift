import QuantCore
@testable import Runtime
import Testing

/// Dense convolutions (im2col and pointwise) on the W8A16 linear kernel: with the input on an
/// unsigned 16-bit grid that has the 8-bit cases' scale and zero point, the exact sums and
/// epilogue equal the W8A8 integer reference bit for bit, for 1 and 3 threads.
@Suite struct QuantizedConvolutionW8A16Tests {
    @Test(arguments: QuantizedConvolutionKernelTests.cases.filter { !$0.depthwise })
    func denseConvolutionMatchesTheExactReference(_ testCase: QuantizedConvolutionKernelTests.Case) throws {
        let operands = QuantizedConvolutionKernelTests.operands(testCase)
        let depth = operands.taps * testCase.channels
        let matrix = try PackedW8A16Matrix(weight: operands.weights, scales: operands.scales, columns: testCase.outputs, depth: depth)
        let grid = try SixteenBitInputGrid(scale: QuantizedConvolutionKernelTests.activationScale,
                                           zeroPoint: QuantizedConvolutionKernelTests.zeroPoint, range: 0...65_535)
        let convolution = QuantizedConvolution.dense(.integer16(matrix, input: grid, outputGrid: nil))
        #expect(convolution.kernelName == "w8a16 im2col")
        let expected = QuantizedConvolutionKernelTests.integerReference(operands)
        for threads in [1, 3] {
            let produced = QuantizedConvolutionKernelTests.run(convolution, operands, threads: threads)
            #expect(produced.map(\.bitPattern) == expected.map(\.bitPattern), "threads \(threads)")
        }
    }
}

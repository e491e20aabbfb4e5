import ModelGraph
import QuantCore
@testable import Runtime
import Testing

/// The channel-blocked depthwise loop and the vectorised batch norm of the CNN kernels,
/// against the plain reference, on shapes that exercise the channel tail, padding, stride,
/// dilation and channel multipliers.
@Suite("Depthwise convolution and batch norm kernels")
struct DepthwiseKernelTests {
    struct Case: Sendable, CustomStringConvertible {
        var channels: Int
        var multiplier: Int
        var kernel: Int
        var stride: Int
        var dilation: Int
        var padding: Padding2D
        var description: String { "c\(channels)×\(multiplier) k\(kernel) s\(stride) d\(dilation) \(padding)" }
    }

    static let cases: [Case] = [
        Case(channels: 32, multiplier: 1, kernel: 3, stride: 1, dilation: 1, padding: .symmetric(1, 1)),
        Case(channels: 13, multiplier: 1, kernel: 3, stride: 2, dilation: 1, padding: .same),
        Case(channels: 20, multiplier: 1, kernel: 5, stride: 2, dilation: 1, padding: .same),
        Case(channels: 9, multiplier: 1, kernel: 3, stride: 1, dilation: 2, padding: .explicit(top: 0, bottom: 2, left: 1, right: 0)),
        Case(channels: 6, multiplier: 2, kernel: 3, stride: 1, dilation: 1, padding: .symmetric(1, 1)),
    ]

    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Float.random(in: -1..<1, using: &generator) }
    }

    static func run(_ testCase: Case, threads: Int) -> (produced: [Float], expected: [Float]) {
        let (batch, height, width) = (2, 11, 10)
        let outputs = testCase.channels * testCase.multiplier
        let window = Window2D(height: testCase.kernel, width: testCase.kernel, strideHeight: testCase.stride,
                              strideWidth: testCase.stride, dilationHeight: testCase.dilation,
                              dilationWidth: testCase.dilation, padding: testCase.padding)
        let placement = window.placement(inputHeight: height, inputWidth: width)!
        let shape = ConvolutionShape(batch: batch, inputHeight: height, inputWidth: width, inputChannels: testCase.channels,
                                     outputChannels: outputs, window: window, placement: placement)
        let input = values(batch * height * width * testCase.channels, seed: 1)
        let weight = values(outputs * testCase.kernel * testCase.kernel, seed: 2)
        let bias = values(outputs, seed: 3)
        let prepared = PreparedConvolution(weight: weight, outputChannels: outputs, window: window,
                                           groups: testCase.channels, inputChannels: testCase.channels)
        var produced = [Float](repeating: .nan, count: shape.outputPixels * outputs)
        input.withUnsafeBufferPointer { input in
            bias.withUnsafeBufferPointer { bias in
                produced.withUnsafeMutableBufferPointer { output in
                    ConvolutionKernel.apply(input: input.baseAddress!, shape: shape, weight: prepared, bias: bias.baseAddress!,
                                            output: output.baseAddress!, threads: threads)
                }
            }
        }
        let expected = ConvolutionKernel.reference(input: input, shape: shape, weight: weight, groups: testCase.channels, bias: bias)
        return (produced, expected)
    }

    @Test(arguments: cases)
    func depthwiseMatchesTheReference(_ testCase: Case) {
        let (produced, expected) = Self.run(testCase, threads: 2)
        #expect(produced.count == expected.count)
        let difference = zip(produced, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference <= 1e-5, "\(testCase): max abs diff \(difference)")
    }

    @Test(arguments: cases)
    func depthwiseIsIdenticalForAnyThreadCount(_ testCase: Case) {
        let single = Self.run(testCase, threads: 1).produced
        #expect(Self.run(testCase, threads: 3).produced == single)
    }

    @Test(arguments: [1, 8, 13, 24])
    func batchNormAppliesScaleAndShiftPerChannel(_ channels: Int) {
        let rows = 300
        let input = Self.values(rows * channels, seed: 4)
        let scale = Self.values(channels, seed: 5), shift = Self.values(channels, seed: 6)
        var values = input
        values.withUnsafeMutableBufferPointer {
            SpatialKernels.batchNorm($0.baseAddress!, rows: rows, scale: scale, shift: shift, threads: 2)
        }
        let expected = input.indices.map { input[$0] * scale[$0 % channels] + shift[$0 % channels] }
        #expect(values == expected)
    }
}

import Foundation
import ModelGraph
import QuantCore
@testable import Runtime
import Testing

/// One convolution configuration: input size, channels, window, groups.
struct ConvolutionCase: Sendable, CustomStringConvertible {
    var batch = 1, height: Int, width: Int, inputs: Int, outputs: Int
    var window: Window2D
    var groups = 1

    var description: String {
        "\(batch)×\(height)×\(width)×\(inputs)→\(outputs) k\(window.height)x\(window.width) s\(window.strideHeight) d\(window.dilationHeight) \(window.padding) g\(groups)"
    }

    static let all: [ConvolutionCase] = [
        // 1×1 pointwise (runs straight on the GEMM), dense 3×3 with padding, stride 2 with SAME.
        ConvolutionCase(batch: 2, height: 5, width: 7, inputs: 16, outputs: 24, window: Window2D(height: 1, width: 1)),
        ConvolutionCase(height: 9, width: 8, inputs: 3, outputs: 32,
                        window: Window2D(height: 3, width: 3, strideHeight: 2, strideWidth: 2, padding: .symmetric(1, 1))),
        ConvolutionCase(batch: 2, height: 11, width: 10, inputs: 5, outputs: 7,
                        window: Window2D(height: 3, width: 3, strideHeight: 2, strideWidth: 2, padding: .same)),
        ConvolutionCase(height: 8, width: 9, inputs: 6, outputs: 4,
                        window: Window2D(height: 5, width: 3, strideHeight: 1, strideWidth: 2, padding: .same)),
        // Dilation, asymmetric explicit padding, a strided 1×1.
        ConvolutionCase(height: 10, width: 10, inputs: 4, outputs: 5,
                        window: Window2D(height: 3, width: 3, dilationHeight: 2, dilationWidth: 2, padding: .symmetric(2, 2))),
        ConvolutionCase(height: 7, width: 6, inputs: 3, outputs: 3,
                        window: Window2D(height: 2, width: 3, padding: .explicit(top: 0, bottom: 1, left: 2, right: 0))),
        ConvolutionCase(height: 8, width: 8, inputs: 6, outputs: 10,
                        window: Window2D(height: 1, width: 1, strideHeight: 2, strideWidth: 2)),
        // Depthwise (multiplier 1 and 2) and grouped.
        ConvolutionCase(batch: 2, height: 12, width: 12, inputs: 32, outputs: 32,
                        window: Window2D(height: 3, width: 3, strideHeight: 2, strideWidth: 2, padding: .symmetric(1, 1)), groups: 32),
        ConvolutionCase(height: 6, width: 7, inputs: 3, outputs: 6,
                        window: Window2D(height: 5, width: 5, padding: .same), groups: 3),
        ConvolutionCase(height: 6, width: 6, inputs: 8, outputs: 12,
                        window: Window2D(height: 3, width: 3, padding: .symmetric(1, 1)), groups: 4),
    ]
}

@Suite struct ConvolutionKernelTests {
    /// fp32 GEMM / direct loop against a Double-accumulated reference, depth ≤ 75.
    static let tolerance: Float = 1e-5

    @Test(arguments: ConvolutionCase.all)
    func convolutionMatchesReferenceForAnyThreadCount(_ configuration: ConvolutionCase) throws {
        var generator = SeededGenerator(seed: UInt64(configuration.height * 131 + configuration.inputs * 7 + configuration.groups))
        let placement = try #require(configuration.window.placement(inputHeight: configuration.height, inputWidth: configuration.width))
        let shape = ConvolutionShape(batch: configuration.batch, inputHeight: configuration.height, inputWidth: configuration.width,
                                     inputChannels: configuration.inputs, outputChannels: configuration.outputs,
                                     window: configuration.window, placement: placement)
        let input = generator.floats(configuration.batch * configuration.height * configuration.width * configuration.inputs)
        let weight = generator.floats(configuration.outputs * configuration.window.height * configuration.window.width
                                      * configuration.inputs / configuration.groups, scale: 0.5)
        let bias = generator.floats(configuration.outputs)
        let expected = ConvolutionKernel.reference(input: input, shape: shape, weight: weight, groups: configuration.groups, bias: bias)
        let prepared = PreparedConvolution(weight: weight, outputChannels: configuration.outputs, window: configuration.window,
                                           groups: configuration.groups, inputChannels: configuration.inputs)
        var first: [Float]?
        for threads in [1, 2, 3] {
            var output = [Float](repeating: .nan, count: expected.count)
            input.withUnsafeBufferPointer { input in
                bias.withUnsafeBufferPointer { bias in
                    output.withUnsafeMutableBufferPointer { output in
                        ConvolutionKernel.apply(input: input.baseAddress!, shape: shape, weight: prepared, bias: bias.baseAddress!,
                                                output: output.baseAddress!, threads: threads)
                    }
                }
            }
            #expect(maximumDifference(output, expected) <= Self.tolerance, "threads \(threads)")
            if let first { #expect(output == first, "results differ between thread counts") } else { first = output }
        }
    }

    @Test func samePaddingMatchesTensorFlowsRule() throws {
        // TF: output ⌈in/stride⌉, total padding max((out−1)·stride + k − in, 0), extra at the end.
        let window = Window2D(height: 3, width: 3, strideHeight: 2, strideWidth: 2, padding: .same)
        #expect(window.placement(inputHeight: 224, inputWidth: 225)
                == Window2D.Placement(outputHeight: 112, outputWidth: 113, padTop: 0, padLeft: 1))
        let five = Window2D(height: 5, width: 5, strideHeight: 1, strideWidth: 1, padding: .same)
        #expect(five.placement(inputHeight: 7, inputWidth: 7) == Window2D.Placement(outputHeight: 7, outputWidth: 7, padTop: 2, padLeft: 2))
        #expect(Window2D(height: 5, width: 5).placement(inputHeight: 3, inputWidth: 8) == nil)
        #expect(Window2D(height: 3, width: 3, strideHeight: 0).placement(inputHeight: 8, inputWidth: 8) == nil)
    }

    @Test(arguments: [Pool2DAttributes.Kind.max, .average], [false, true])
    func poolingMatchesPlainLoops(kind: Pool2DAttributes.Kind, countsPadding: Bool) throws {
        var generator = SeededGenerator(seed: countsPadding ? 5 : 6)
        let window = Window2D(height: 3, width: 3, strideHeight: 2, strideWidth: 2, padding: .symmetric(1, 1))
        let height = 7, width = 6, channels = 5
        let placement = try #require(window.placement(inputHeight: height, inputWidth: width))
        let shape = ConvolutionShape(batch: 1, inputHeight: height, inputWidth: width, inputChannels: channels,
                                     outputChannels: channels, window: window, placement: placement)
        let input = generator.floats(height * width * channels)
        var output = [Float](repeating: .nan, count: placement.outputHeight * placement.outputWidth * channels)
        input.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                SpatialKernels.pool(input.baseAddress!, shape: shape,
                                    attributes: Pool2DAttributes(kind: kind, window: window, countsPadding: countsPadding),
                                    output: output.baseAddress!, threads: 2)
            }
        }
        for outputY in 0..<placement.outputHeight {
            for outputX in 0..<placement.outputWidth {
                for channel in 0..<channels {
                    var values: [Float] = []
                    var padded = 0
                    for kernelY in 0..<3 {
                        for kernelX in 0..<3 {
                            let y = outputY * 2 - 1 + kernelY, x = outputX * 2 - 1 + kernelX
                            if y < 0 || y >= height || x < 0 || x >= width { padded += 1; continue }
                            values.append(input[(y * width + x) * channels + channel])
                        }
                    }
                    let expected = kind == .max ? values.max()!
                        : values.reduce(0, +) / Float(values.count + (countsPadding ? padded : 0))
                    let actual = output[(outputY * placement.outputWidth + outputX) * channels + channel]
                    #expect(abs(actual - expected) <= 1e-6, "(\(outputY), \(outputX), \(channel))")
                }
            }
        }
    }

    @Test func executorRunsASmallNetworkLikeItsPlainReference() throws {
        // conv(3×3, SAME) → batch norm → ReLU6 → depthwise → global pool → flatten → linear → softmax.
        var generator = SeededGenerator(seed: 21)
        var builder = GraphBuilder()
        let image = builder.input("image")
        let convolutionWindow = Window2D(height: 3, width: 3, strideHeight: 2, strideWidth: 2, padding: .same)
        let convolutionWeight = Tensor(shape: [8, 3, 3, 3], scalars: generator.floats(216, scale: 0.4))
        var value = builder.add("conv", .conv2d(Convolution2DAttributes(window: convolutionWindow)), inputs: [image],
                                parameters: ["weight": convolutionWeight])
        let gamma = generator.floats(8), beta = generator.floats(8), mean = generator.floats(8)
        let variance = generator.floats(8).map { abs($0) + 0.1 }
        value = builder.add("bn", .batchNorm(epsilon: 1e-5), inputs: [value], parameters: [
            "weight": Tensor(shape: [8], scalars: gamma), "bias": Tensor(shape: [8], scalars: beta),
            "mean": Tensor(shape: [8], scalars: mean), "variance": Tensor(shape: [8], scalars: variance)])
        value = builder.add("relu", .activation(.relu6), inputs: [value])
        let depthwiseWindow = Window2D(height: 3, width: 3, padding: .symmetric(1, 1))
        let depthwiseWeight = Tensor(shape: [8, 3, 3, 1], scalars: generator.floats(72))
        value = builder.add("dw", .conv2d(Convolution2DAttributes(window: depthwiseWindow, groups: 8)), inputs: [value],
                            parameters: ["weight": depthwiseWeight])
        value = builder.add("pool", .globalAveragePool, inputs: [value])
        value = builder.add("flat", .flatten, inputs: [value])
        let linearWeight = Tensor(shape: [4, 8], scalars: generator.floats(32))
        value = builder.add("fc", .linear, inputs: [value], parameters: ["weight": linearWeight])
        value = builder.add("prob", .softmax, inputs: [value])
        let graph = try builder.finish(outputs: [value])
        let input = Tensor(shape: [2, 9, 9, 3], scalars: generator.floats(2 * 81 * 3))
        let output = try GraphExecutor(graph: graph, threads: 2).run(inputs: ["image": input])[0]

        // The same network in plain loops.
        let first = try #require(convolutionWindow.placement(inputHeight: 9, inputWidth: 9))
        let firstShape = ConvolutionShape(batch: 2, inputHeight: 9, inputWidth: 9, inputChannels: 3, outputChannels: 8,
                                          window: convolutionWindow, placement: first)
        var hidden = ConvolutionKernel.reference(input: input.scalars, shape: firstShape, weight: convolutionWeight.scalars, groups: 1, bias: nil)
        for index in hidden.indices {
            let channel = index % 8
            let normalised = (hidden[index] - mean[channel]) / (variance[channel] + 1e-5).squareRoot() * gamma[channel] + beta[channel]
            hidden[index] = min(max(normalised, 0), 6)
        }
        let second = try #require(depthwiseWindow.placement(inputHeight: first.outputHeight, inputWidth: first.outputWidth))
        let secondShape = ConvolutionShape(batch: 2, inputHeight: first.outputHeight, inputWidth: first.outputWidth, inputChannels: 8,
                                           outputChannels: 8, window: depthwiseWindow, placement: second)
        hidden = ConvolutionKernel.reference(input: hidden, shape: secondShape, weight: depthwiseWeight.scalars, groups: 8, bias: nil)
        let pixels = second.outputHeight * second.outputWidth
        #expect(output.shape == [2, 4])
        for image in 0..<2 {
            let pooled = (0..<8).map { channel in (0..<pixels).map { hidden[(image * pixels + $0) * 8 + channel] }.reduce(0, +) / Float(pixels) }
            let logits = (0..<4).map { row in (0..<8).map { linearWeight.scalars[row * 8 + $0] * pooled[$0] }.reduce(0, +) }
            let largest = logits.max()!
            let exponentials = logits.map { Foundation.exp($0 - largest) }
            let total = exponentials.reduce(0, +)
            for row in 0..<4 {
                #expect(abs(output.scalars[image * 4 + row] - exponentials[row] / total) <= 1e-5)
            }
        }
    }

    @Test func convolutionShapeErrorsNameTheNode() throws {
        var builder = GraphBuilder()
        let image = builder.input("image")
        let output = builder.add("conv", .conv2d(Convolution2DAttributes(window: Window2D(height: 3, width: 3))), inputs: [image],
                                 parameters: ["weight": Tensor(zeros: [4, 3, 3, 2])])
        let executor = GraphExecutor(graph: try builder.finish(outputs: [output]), threads: 1)
        #expect(throws: RuntimeError.shapeMismatch(
            node: "conv", reason: "input has 3 channels, the weight [4, 3, 3, 2] with 1 groups needs 2")) {
            _ = try executor.run(inputs: ["image": Tensor(zeros: [1, 5, 5, 3])])
        }
        #expect(throws: RuntimeError.self) { _ = try executor.run(inputs: ["image": Tensor(zeros: [1, 2, 2, 2])]) }
        #expect(throws: RuntimeError.self) { _ = try executor.run(inputs: ["image": Tensor(zeros: [5, 5, 2])]) }
    }
}

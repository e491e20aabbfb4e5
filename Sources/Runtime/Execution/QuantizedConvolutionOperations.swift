import ModelGraph
import QuantCore

/// Shape checks and buffer plumbing around the integer convolution kernels.
enum QuantizedConvolutionOperations {
    static func convolution(_ node: Node, _ input: Tensor, attributes: Convolution2DAttributes,
                            quantized: QuantizedConvolution, threads: Int) throws -> Tensor {
        let outputChannels = quantized.outputChannels
        let convolution = try ConvolutionOperations.shape(node, input: input, window: attributes.window, outputChannels: outputChannels)
        let window = attributes.window
        switch quantized {
        case let .dense(linear):
            guard linear.depth == window.height * window.width * convolution.inputChannels else {
                throw RuntimeError.shapeMismatch(
                    node: node.name, reason: "input has \(convolution.inputChannels) channels; the integer weight has depth \(linear.depth) for a \(window.height)×\(window.width) window")
            }
        case let .depthwiseInteger(filter, _, _, _), let .depthwiseWeightOnly(filter):
            guard convolution.inputChannels * filter.multiplier == outputChannels,
                  filter.kernelHeight == window.height, filter.kernelWidth == window.width else {
                throw RuntimeError.shapeMismatch(
                    node: node.name, reason: "input has \(convolution.inputChannels) channels; the depthwise filter has \(outputChannels) outputs, multiplier \(filter.multiplier), \(filter.kernelHeight)×\(filter.kernelWidth)")
            }
        }
        let bias = node.parameters["bias"]
        if let bias, bias.count != outputChannels {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "bias \(bias.shape) is not [\(outputChannels)]")
        }
        let count = convolution.outputPixels * outputChannels
        let result = [Float](unsafeUninitializedCapacity: count) { output, initialized in
            input.scalars.withUnsafeBufferPointer { input in
                func run(_ bias: UnsafePointer<Float>?) {
                    QuantizedConvolutionKernel.apply(input: input.baseAddress!, shape: convolution, convolution: quantized, bias: bias,
                                                     output: output.baseAddress!, threads: threads)
                }
                if let bias { bias.scalars.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
            }
            initialized = count
        }
        return Tensor(shape: [convolution.batch, convolution.placement.outputHeight, convolution.placement.outputWidth, outputChannels],
                      scalars: result)
    }
}

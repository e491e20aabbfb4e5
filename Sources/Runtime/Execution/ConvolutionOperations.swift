import ModelGraph
import QuantCore

/// Shape checks and buffer plumbing around the CNN kernels (NHWC activations), one function
/// per op.
enum ConvolutionOperations {
    /// The geometry of a window op on `input`, or a shape error naming the node.
    static func shape(_ node: Node, input: Tensor, window: Window2D, outputChannels: Int?) throws -> ConvolutionShape {
        guard input.rank == 4 else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "input \(input.shape) is not [batch, height, width, channels]")
        }
        guard let placement = window.placement(inputHeight: input.shape[1], inputWidth: input.shape[2]) else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "a \(window.height)×\(window.width) window does not fit input \(input.shape)")
        }
        return ConvolutionShape(batch: input.shape[0], inputHeight: input.shape[1], inputWidth: input.shape[2],
                                inputChannels: input.shape[3], outputChannels: outputChannels ?? input.shape[3],
                                window: window, placement: placement)
    }

    /// Prepares a conv node's weight for the kernels.
    static func prepare(_ node: Node, attributes: Convolution2DAttributes) throws -> PreparedConvolution {
        let weight = try FloatOperations.parameter(node, "weight")
        let window = attributes.window
        guard weight.rank == 4, weight.shape[1] == window.height, weight.shape[2] == window.width, attributes.groups >= 1,
              weight.shape[0] % attributes.groups == 0 else {
            throw RuntimeError.shapeMismatch(
                node: node.name, reason: "weight \(weight.shape) is not [out, \(window.height), \(window.width), in/groups] for \(attributes.groups) groups")
        }
        if let bias = node.parameters["bias"], bias.shape != [weight.shape[0]] {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "bias \(bias.shape) is not [\(weight.shape[0])]")
        }
        return PreparedConvolution(weight: weight.scalars, outputChannels: weight.shape[0], window: window,
                                   groups: attributes.groups, inputChannels: weight.shape[3] * attributes.groups)
    }

    static func convolution(_ node: Node, _ input: Tensor, attributes: Convolution2DAttributes,
                            prepared: PreparedConvolution, threads: Int) throws -> Tensor {
        let weight = try FloatOperations.parameter(node, "weight")
        let convolution = try shape(node, input: input, window: attributes.window, outputChannels: weight.shape[0])
        guard convolution.inputChannels == weight.shape[3] * attributes.groups else {
            throw RuntimeError.shapeMismatch(
                node: node.name, reason: "input has \(convolution.inputChannels) channels, the weight \(weight.shape) with \(attributes.groups) groups needs \(weight.shape[3] * attributes.groups)")
        }
        let count = convolution.outputPixels * convolution.outputChannels
        let bias = node.parameters["bias"]
        let result = [Float](unsafeUninitializedCapacity: count) { output, initialized in
            input.scalars.withUnsafeBufferPointer { input in
                func run(_ bias: UnsafePointer<Float>?) {
                    ConvolutionKernel.apply(input: input.baseAddress!, shape: convolution, weight: prepared, bias: bias,
                                            output: output.baseAddress!, threads: threads)
                }
                if let bias { bias.scalars.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
            }
            initialized = count
        }
        return Tensor(shape: [convolution.batch, convolution.placement.outputHeight, convolution.placement.outputWidth,
                              convolution.outputChannels], scalars: result)
    }

    static func pool(_ node: Node, _ input: Tensor, attributes: Pool2DAttributes, threads: Int) throws -> Tensor {
        let pooling = try shape(node, input: input, window: attributes.window, outputChannels: nil)
        let count = pooling.outputPixels * pooling.inputChannels
        let result = [Float](unsafeUninitializedCapacity: count) { output, initialized in
            input.scalars.withUnsafeBufferPointer { input in
                SpatialKernels.pool(input.baseAddress!, shape: pooling, attributes: attributes, output: output.baseAddress!, threads: threads)
            }
            initialized = count
        }
        return Tensor(shape: [pooling.batch, pooling.placement.outputHeight, pooling.placement.outputWidth, pooling.inputChannels],
                      scalars: result)
    }

    static func batchNorm(_ node: Node, _ values: inout Tensor, epsilon: Float, threads: Int) throws {
        let parameters = try ["weight", "bias", "mean", "variance"].map { try FloatOperations.parameter(node, $0) }
        let channels = parameters[0].count
        guard parameters.allSatisfy({ $0.count == channels }), values.shape.last == channels else {
            throw RuntimeError.shapeMismatch(
                node: node.name, reason: "input \(values.shape) and parameters \(parameters.map(\.shape)) disagree on the channel count")
        }
        let affine = SpatialKernels.batchNormAffine(weight: parameters[0].scalars, bias: parameters[1].scalars,
                                                    mean: parameters[2].scalars, variance: parameters[3].scalars, epsilon: epsilon)
        let rows = values.count / max(channels, 1)
        values.scalars.withUnsafeMutableBufferPointer {
            SpatialKernels.batchNorm($0.baseAddress!, rows: rows, scale: affine.scale, shift: affine.shift, threads: threads)
        }
    }

    static func boundedReLU(_ node: Node, _ values: inout Tensor, threads: Int) throws {
        let ceiling = try FloatOperations.parameter(node, "ceiling")
        let channels = ceiling.count
        guard channels > 0, values.shape.last == channels else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "input \(values.shape) and ceiling \(ceiling.shape) disagree on the channel count")
        }
        guard ceiling.scalars.allSatisfy({ $0 >= 0 }) else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "has a negative ceiling")
        }
        let rows = values.count / channels
        values.scalars.withUnsafeMutableBufferPointer {
            guard let base = $0.baseAddress, rows > 0 else { return }
            ActivationKernels.boundedReLU(base, rows: rows, ceilings: ceiling.scalars, threads: threads)
        }
    }

    static func globalAveragePool(_ node: Node, _ input: Tensor) throws -> Tensor {
        guard input.rank == 4 else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "input \(input.shape) is not [batch, height, width, channels]")
        }
        let batch = input.shape[0], channels = input.shape[3]
        let result = input.scalars.withUnsafeBufferPointer {
            SpatialKernels.globalAveragePool($0.baseAddress!, batch: batch, pixels: input.shape[1] * input.shape[2], channels: channels)
        }
        return Tensor(shape: [batch, channels], scalars: result)
    }

    static func flatten(_ node: Node, _ input: Tensor) throws -> Tensor {
        guard input.rank >= 1 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "cannot flatten a scalar") }
        return Tensor(shape: [input.shape[0], input.count / max(input.shape[0], 1)], scalars: input.scalars)
    }

    static func softmax(_ values: inout Tensor) {
        let width = max(values.shape.last ?? 1, 1)
        let rows = values.count / width
        values.scalars.withUnsafeMutableBufferPointer { SpatialKernels.softmax($0.baseAddress!, rows: rows, width: width) }
    }
}

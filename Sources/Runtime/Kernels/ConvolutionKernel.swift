import ModelGraph

/// The geometry of one 2-D convolution or pooling call on an NHWC input.
public struct ConvolutionShape: Sendable, Equatable {
    public var batch: Int
    public var inputHeight: Int
    public var inputWidth: Int
    public var inputChannels: Int
    public var outputChannels: Int
    public var window: Window2D
    public var placement: Window2D.Placement

    /// Output pixels over the whole batch (the GEMM's row count).
    public var outputPixels: Int { batch * placement.outputHeight * placement.outputWidth }

    /// True when the convolution reads each input pixel once, in place (1×1, stride 1, no padding).
    public var isPointwise: Bool {
        window.height == 1 && window.width == 1 && window.strideHeight == 1 && window.strideWidth == 1
            && placement.outputHeight == inputHeight && placement.outputWidth == inputWidth
    }
}

/// A convolution weight prepared for the kernels, once, when a graph is loaded.
public enum PreparedConvolution: Sendable {
    /// One group: im2col rows times the packed `[out, kh·kw·in]` weight.
    case dense(PackedMatrix)
    /// Several dense groups, each with its own packed weight.
    case grouped([PackedMatrix])
    /// One input channel per group: weights transposed to `[kh, kw, out]` so the inner loop
    /// runs over contiguous channels; `multiplier` outputs per input channel.
    case depthwise(weights: [Float], multiplier: Int)

    /// Prepares an OHWI weight `[out, kh, kw, in / groups]` for `groups` groups on an input
    /// of `inputChannels` channels.
    public init(weight: [Float], outputChannels: Int, window: Window2D, groups: Int, inputChannels: Int) {
        let taps = window.height * window.width
        let groupInputs = inputChannels / groups, groupOutputs = outputChannels / groups
        if groups > 1 && groupInputs == 1 {
            var transposed = [Float](repeating: 0, count: taps * outputChannels)
            for output in 0..<outputChannels {
                for tap in 0..<taps { transposed[tap * outputChannels + output] = weight[output * taps + tap] }
            }
            self = .depthwise(weights: transposed, multiplier: groupOutputs)
        } else if groups == 1 {
            self = .dense(PackedMatrix(linearWeight: weight, columns: outputChannels, depth: taps * inputChannels))
        } else {
            let depth = taps * groupInputs
            self = .grouped((0..<groups).map { group in
                let slice = Array(weight[(group * groupOutputs * depth)..<((group + 1) * groupOutputs * depth)])
                return PackedMatrix(linearWeight: slice, columns: groupOutputs, depth: depth)
            })
        }
    }
}

/// fp32 2-D convolution over NHWC activations: im2col + the packed GEMM for dense and grouped
/// convolutions, a direct channel-vectorised loop for depthwise ones. Work is split by output
/// rows in chunks fixed by the shape, so results do not depend on the thread count.
public enum ConvolutionKernel {
    /// Output rows (of one image) per parallel task in the direct loops.
    static let rowsPerTask = 2

    /// Runs the convolution; `input` is `[batch, H, W, in]`, `output` `[batch, OH, OW, out]`.
    public static func apply(input: UnsafePointer<Float>, shape: ConvolutionShape, weight: PreparedConvolution,
                             bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, threads: Int) {
        switch weight {
        case let .dense(packed):
            if shape.isPointwise {
                LinearKernel.apply(input: input, rows: shape.outputPixels, weight: packed, bias: bias, output: output, threads: threads)
                return
            }
            let columns = im2col(input, shape: shape, firstChannel: 0, channels: shape.inputChannels, padding: 0, threads: threads)
            columns.withUnsafeBufferPointer { columns in
                LinearKernel.apply(input: columns.baseAddress!, rows: shape.outputPixels, weight: packed, bias: bias,
                                   output: output, threads: threads)
            }
        case let .grouped(groups):
            let groupInputs = shape.inputChannels / groups.count, groupOutputs = shape.outputChannels / groups.count
            var groupOutput = [Float](repeating: 0, count: shape.outputPixels * groupOutputs)
            for (group, packed) in groups.enumerated() {
                let columns = im2col(input, shape: shape, firstChannel: group * groupInputs, channels: groupInputs, padding: 0,
                                       threads: threads)
                columns.withUnsafeBufferPointer { columns in
                    groupOutput.withUnsafeMutableBufferPointer { result in
                        LinearKernel.apply(input: columns.baseAddress!, rows: shape.outputPixels, weight: packed,
                                           bias: bias.map { $0 + group * groupOutputs }, output: result.baseAddress!, threads: threads)
                    }
                }
                for pixel in 0..<shape.outputPixels {
                    for channel in 0..<groupOutputs {
                        output[pixel * shape.outputChannels + group * groupOutputs + channel] = groupOutput[pixel * groupOutputs + channel]
                    }
                }
            }
        case let .depthwise(weights, multiplier):
            weights.withUnsafeBufferPointer { weights in
                depthwise(input, shape: shape, weights: weights.baseAddress!, multiplier: multiplier, bias: bias,
                          output: output, threads: threads)
            }
        }
    }

    /// The im2col matrix `[outputPixels, kh·kw·channels]` of the channel slice
    /// `firstChannel..<firstChannel+channels`, `padding` where the window reads outside the
    /// image (0 for floats; the zero-point code for quantized activations).
    static func im2col<Element>(_ input: UnsafePointer<Element>, shape: ConvolutionShape, firstChannel: Int, channels: Int,
                                padding: Element, threads: Int) -> [Element] {
        let window = shape.window, placement = shape.placement
        let depth = window.height * window.width * channels
        let outputRows = shape.batch * placement.outputHeight
        let inputBox = UncheckedSendable(input)
        return [Element](unsafeUninitializedCapacity: shape.outputPixels * depth) { buffer, initialized in
            let columnsBox = UncheckedSendable(buffer.baseAddress!)
            Parallel.forEachChunk(count: outputRows, chunkSize: rowsPerTask * 4, threads: threads) { rows in
                for row in rows {
                    let image = row / placement.outputHeight, outputY = row % placement.outputHeight
                    for outputX in 0..<placement.outputWidth {
                        var destination = columnsBox.value + (row * placement.outputWidth + outputX) * depth
                        for kernelY in 0..<window.height {
                            let inputY = outputY * window.strideHeight - placement.padTop + kernelY * window.dilationHeight
                            for kernelX in 0..<window.width {
                                let inputX = outputX * window.strideWidth - placement.padLeft + kernelX * window.dilationWidth
                                if inputY >= 0, inputY < shape.inputHeight, inputX >= 0, inputX < shape.inputWidth {
                                    let pixel = (image * shape.inputHeight + inputY) * shape.inputWidth + inputX
                                    destination.update(from: inputBox.value + pixel * shape.inputChannels + firstChannel, count: channels)
                                } else {
                                    destination.update(repeating: padding, count: channels)
                                }
                                destination += channels
                            }
                        }
                    }
                }
            }
            initialized = shape.outputPixels * depth
        }
    }

    /// Depthwise convolution: each output channel `o` reads input channel `o / multiplier`.
    /// Per output pixel the taps inside the image are listed once; then each block of eight
    /// channels accumulates bias + Σ taps in registers, taps in (row, column) order.
    static func depthwise(_ input: UnsafePointer<Float>, shape: ConvolutionShape, weights: UnsafePointer<Float>,
                          multiplier: Int, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, threads: Int) {
        let window = shape.window, placement = shape.placement
        let channels = shape.outputChannels
        let boxes = UncheckedSendable((input, weights, bias, output))
        Parallel.forEachChunk(count: shape.batch * placement.outputHeight, chunkSize: rowsPerTask, threads: threads) { rows in
            let (input, weights, bias, output) = boxes.value
            // Input pixel offsets and weight offsets of the taps that land inside the image.
            let windowTaps = window.height * window.width
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * windowTaps) { offsets in
                let sources = offsets.baseAddress!, tapWeights = sources + windowTaps
                for row in rows {
                    let image = row / placement.outputHeight, outputY = row % placement.outputHeight
                    for outputX in 0..<placement.outputWidth {
                        var taps = 0
                        for kernelY in 0..<window.height {
                            let inputY = outputY * window.strideHeight - placement.padTop + kernelY * window.dilationHeight
                            guard inputY >= 0, inputY < shape.inputHeight else { continue }
                            for kernelX in 0..<window.width {
                                let inputX = outputX * window.strideWidth - placement.padLeft + kernelX * window.dilationWidth
                                guard inputX >= 0, inputX < shape.inputWidth else { continue }
                                sources[taps] = ((image * shape.inputHeight + inputY) * shape.inputWidth + inputX) * shape.inputChannels
                                tapWeights[taps] = (kernelY * window.width + kernelX) * channels
                                taps += 1
                            }
                        }
                        let result = output + (row * placement.outputWidth + outputX) * channels
                        if multiplier == 1 {
                            accumulateDepthwise(input, sources: sources, weights: weights, tapWeights: tapWeights, taps: taps,
                                                bias: bias, channels: channels, result: result)
                        } else {
                            for channel in 0..<channels {
                                var sum = bias?[channel] ?? 0
                                for tap in 0..<taps {
                                    sum += input[sources[tap] + channel / multiplier] * weights[tapWeights[tap] + channel]
                                }
                                result[channel] = sum
                            }
                        }
                    }
                }
            }
        }
    }

    /// One output pixel of a depthwise convolution with one output per input channel:
    /// `result[c] = bias[c] + Σ_tap input[sources[tap] + c] · weights[tapWeights[tap] + c]`.
    @inline(__always)
    private static func accumulateDepthwise(_ input: UnsafePointer<Float>, sources: UnsafePointer<Int>,
                                            weights: UnsafePointer<Float>, tapWeights: UnsafePointer<Int>, taps: Int,
                                            bias: UnsafePointer<Float>?, channels: Int, result: UnsafeMutablePointer<Float>) {
        let rawInput = UnsafeRawPointer(input), rawWeights = UnsafeRawPointer(weights)
        let stride = MemoryLayout<Float>.stride
        var channel = 0
        while channel + 8 <= channels {
            var sum = bias.map { UnsafeRawPointer($0 + channel).loadUnaligned(as: SIMD8<Float>.self) } ?? SIMD8<Float>()
            for tap in 0..<taps {
                let value = rawInput.loadUnaligned(fromByteOffset: (sources[tap] + channel) * stride, as: SIMD8<Float>.self)
                let weight = rawWeights.loadUnaligned(fromByteOffset: (tapWeights[tap] + channel) * stride, as: SIMD8<Float>.self)
                sum = sum + value * weight
            }
            UnsafeMutableRawPointer(result + channel).storeBytes(of: sum, as: SIMD8<Float>.self)
            channel += 8
        }
        while channel < channels {
            var sum = bias?[channel] ?? 0
            for tap in 0..<taps { sum = sum + input[sources[tap] + channel] * weights[tapWeights[tap] + channel] }
            result[channel] = sum
            channel += 1
        }
    }

    /// A plain reference convolution (NHWC input, OHWI weight, any groups) for tests.
    public static func reference(input: [Float], shape: ConvolutionShape, weight: [Float], groups: Int, bias: [Float]?) -> [Float] {
        let window = shape.window, placement = shape.placement
        let groupInputs = shape.inputChannels / groups, groupOutputs = shape.outputChannels / groups
        var output = [Float](repeating: 0, count: shape.outputPixels * shape.outputChannels)
        for image in 0..<shape.batch {
            for outputY in 0..<placement.outputHeight {
                for outputX in 0..<placement.outputWidth {
                    for channel in 0..<shape.outputChannels {
                        let group = channel / groupOutputs
                        var sum: Double = Double(bias?[channel] ?? 0)
                        for kernelY in 0..<window.height {
                            for kernelX in 0..<window.width {
                                let inputY = outputY * window.strideHeight - placement.padTop + kernelY * window.dilationHeight
                                let inputX = outputX * window.strideWidth - placement.padLeft + kernelX * window.dilationWidth
                                guard inputY >= 0, inputY < shape.inputHeight, inputX >= 0, inputX < shape.inputWidth else { continue }
                                for inputChannel in 0..<groupInputs {
                                    let value = input[((image * shape.inputHeight + inputY) * shape.inputWidth + inputX) * shape.inputChannels
                                                      + group * groupInputs + inputChannel]
                                    let tap = weight[((channel * window.height + kernelY) * window.width + kernelX) * groupInputs + inputChannel]
                                    sum += Double(value) * Double(tap)
                                }
                            }
                        }
                        output[((image * placement.outputHeight + outputY) * placement.outputWidth + outputX) * shape.outputChannels + channel] = Float(sum)
                    }
                }
            }
        }
        return output
    }
}

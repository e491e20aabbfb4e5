import CKernels

/// A depthwise convolution's symmetric int8 weight (int4 values fit too), one scale per
/// output channel, transposed to `[kernelHeight·kernelWidth, outputChannels]` for the direct
/// kernels in `CKernels`.
public struct QuantizedDepthwiseFilter: Sendable {
    /// The most taps (kernelHeight·kernelWidth) the C kernels take.
    public static let maximumTaps = 1024

    public let outputChannels: Int
    /// Output channels per input channel.
    public let multiplier: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    /// Per-output-channel weight scales.
    public let scales: [Float]
    /// Codes `[taps, outputChannels]`.
    let weights: [Int8]

    /// Takes the OHWI codes `[outputChannels, kernelHeight, kernelWidth, 1]`. Throws when a
    /// count does not match or the window has more than `maximumTaps` taps.
    public init(weight: [Int8], scales: [Float], outputChannels: Int, kernelHeight: Int, kernelWidth: Int,
                multiplier: Int, name: String = "weight") throws {
        let taps = kernelHeight * kernelWidth
        guard outputChannels > 0, multiplier > 0, outputChannels % multiplier == 0, kernelHeight > 0, kernelWidth > 0,
              weight.count == outputChannels * taps else {
            throw RuntimeError.shapeMismatch(
                node: name, reason: "depthwise weight has \(weight.count) values, expected \(outputChannels) × \(kernelHeight) × \(kernelWidth)")
        }
        guard taps <= Self.maximumTaps else {
            throw RuntimeError.shapeMismatch(node: name, reason: "a \(kernelHeight)×\(kernelWidth) depthwise window exceeds \(Self.maximumTaps) taps")
        }
        guard scales.count == outputChannels else {
            throw RuntimeError.shapeMismatch(node: name, reason: "\(scales.count) weight scales for \(outputChannels) output channels")
        }
        var transposed = [Int8](repeating: 0, count: weight.count)
        for output in 0..<outputChannels {
            for tap in 0..<taps { transposed[tap * outputChannels + output] = weight[output * taps + tap] }
        }
        self.outputChannels = outputChannels
        self.multiplier = multiplier
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.scales = scales
        self.weights = transposed
    }
}

/// How a convolution of a compressed model runs on the integer kernels.
public enum QuantizedConvolution: Sendable {
    /// One group: im2col rows (the input itself for 1×1 stride-1 convolutions) through a
    /// linear kernel on the OHWI weight flattened to `[out, kh·kw·in]`.
    case dense(QuantizedLinear)
    /// Depthwise on uint8 codes of the input (quantized with the producer's 8-bit encoding),
    /// exact int32 sums, requantised to float (and fake-quantized on `outputGrid` if given).
    case depthwiseInteger(QuantizedDepthwiseFilter, activationScale: Float, zeroPoint: Int32, outputGrid: QuantizedOutputGrid?)
    /// Depthwise on float activations with the int8 weights scaled per channel after the sum.
    case depthwiseWeightOnly(QuantizedDepthwiseFilter)

    /// Output channels.
    public var outputChannels: Int {
        switch self {
        case let .dense(linear): return linear.columns
        case let .depthwiseInteger(filter, _, _, _), let .depthwiseWeightOnly(filter): return filter.outputChannels
        }
    }

    /// A short description for reports (`w8a8 im2col`, `w8a8 depthwise`, ...).
    public var kernelName: String {
        switch self {
        case let .dense(linear): return linear.kernelName + " im2col"
        case .depthwiseInteger: return "w8a8 depthwise"
        case .depthwiseWeightOnly: return "int8 weight-only depthwise"
        }
    }
}

/// Integer convolutions over NHWC activations. Work is split by output rows (depthwise) or
/// like the linear kernels (dense), in chunks fixed by the shape, so results do not depend
/// on the thread count.
public enum QuantizedConvolutionKernel {
    /// Output rows (of one image) per parallel task in the depthwise kernels.
    static let rowsPerTask = 2

    /// Runs the convolution; `input` is `[batch, H, W, in]`, `output` `[batch, OH, OW, out]`.
    public static func apply(input: UnsafePointer<Float>, shape: ConvolutionShape, convolution: QuantizedConvolution,
                             bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, threads: Int) {
        let rows = shape.outputPixels
        switch convolution {
        case let .dense(.integer(matrix, scale, zeroPoint, grid)):
            if shape.isPointwise {
                QuantizedLinearKernel.applyW8A8(floatInput: input, rows: rows, activationScale: scale, zeroPoint: zeroPoint,
                                                weight: matrix, bias: bias, outputGrid: grid, output: output, threads: threads)
                return
            }
            // Quantize each input value once, then gather uint8 im2col rows (padding = the
            // code of 0): the same codes the fused kernel would compute from float rows.
            let codes = quantize(input, count: shape.batch * shape.inputHeight * shape.inputWidth * shape.inputChannels,
                                 scale: scale, zeroPoint: zeroPoint, threads: threads)
            let columns = codes.withUnsafeBufferPointer {
                ConvolutionKernel.im2col($0.baseAddress!, shape: shape, firstChannel: 0, channels: shape.inputChannels,
                                         padding: UInt8(clamping: zeroPoint), threads: threads)
            }
            columns.withUnsafeBufferPointer {
                QuantizedLinearKernel.applyW8A8(input: $0.baseAddress!, rows: rows, activationScale: scale, zeroPoint: zeroPoint,
                                                weight: matrix, bias: bias, output: output, threads: threads)
            }
            if let grid {
                QuantizedLinearKernel.fakeQuantize(output, count: rows * matrix.columns, grid: grid, threads: threads)
            }
        case let .dense(.integer16(matrix, inputGrid, grid)):
            // Float im2col rows (padding 0.0, whose code is the zero point) quantized in the prologue.
            let columns = shape.isPointwise
                ? nil : ConvolutionKernel.im2col(input, shape: shape, firstChannel: 0, channels: shape.inputChannels, padding: 0, threads: threads)
            func run(_ rowsInput: UnsafePointer<Float>) {
                QuantizedLinearKernel.applyW8A16(floatInput: rowsInput, rows: rows, inputGrid: inputGrid, weight: matrix, bias: bias,
                                                 outputGrid: grid, output: output, threads: threads)
            }
            if let columns { columns.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(input) }
        case let .dense(.weightOnly(matrix)):
            if shape.isPointwise {
                QuantizedLinearKernel.applyWeightOnly(input: input, rows: rows, weight: matrix, bias: bias, output: output, threads: threads)
                return
            }
            let columns = ConvolutionKernel.im2col(input, shape: shape, firstChannel: 0, channels: shape.inputChannels, padding: 0, threads: threads)
            columns.withUnsafeBufferPointer {
                QuantizedLinearKernel.applyWeightOnly(input: $0.baseAddress!, rows: rows, weight: matrix, bias: bias,
                                                      output: output, threads: threads)
            }
        case let .depthwiseInteger(filter, scale, zeroPoint, grid):
            let codes = quantize(input, count: shape.batch * shape.inputHeight * shape.inputWidth * shape.inputChannels,
                                 scale: scale, zeroPoint: zeroPoint, threads: threads)
            let combined = filter.scales.map { scale * $0 }
            var cGrid = aimet_w8a8_output_grid(scale: grid?.scale ?? 1, low: grid?.low ?? 0, high: grid?.high ?? 0)
            var geometry = depthwiseGeometry(shape, filter: filter)
            let useGrid = grid != nil
            codes.withUnsafeBufferPointer { codes in
                filter.weights.withUnsafeBufferPointer { weights in
                    combined.withUnsafeBufferPointer { scales in
                        withUnsafePointer(to: &geometry) { geometry in
                            withUnsafePointer(to: &cGrid) { cGrid in
                                let boxes = UncheckedSendable((geometry, codes.baseAddress!, weights.baseAddress!, scales.baseAddress!,
                                                               bias, useGrid ? cGrid : nil, output))
                                forEachRowChunk(shape, threads: threads) { range in
                                    let (geometry, codes, weights, scales, bias, grid, output) = boxes.value
                                    aimet_depthwise_w8a8_f32(geometry, range.lowerBound, range.upperBound, codes, zeroPoint, weights,
                                                             scales, bias, grid, output)
                                }
                            }
                        }
                    }
                }
            }
        case let .depthwiseWeightOnly(filter):
            var geometry = depthwiseGeometry(shape, filter: filter)
            filter.weights.withUnsafeBufferPointer { weights in
                filter.scales.withUnsafeBufferPointer { scales in
                    withUnsafePointer(to: &geometry) { geometry in
                        let boxes = UncheckedSendable((geometry, input, weights.baseAddress!, scales.baseAddress!, bias, output))
                        forEachRowChunk(shape, threads: threads) { range in
                            let (geometry, input, weights, scales, bias, output) = boxes.value
                            aimet_depthwise_wo_f32(geometry, range.lowerBound, range.upperBound, input, weights, scales, bias, output)
                        }
                    }
                }
            }
        }
    }

    /// The C geometry of a depthwise convolution of `shape`.
    static func depthwiseGeometry(_ shape: ConvolutionShape, filter: QuantizedDepthwiseFilter) -> aimet_depthwise_geometry {
        let window = shape.window, placement = shape.placement
        return aimet_depthwise_geometry(
            batch: shape.batch, input_height: shape.inputHeight, input_width: shape.inputWidth, input_channels: shape.inputChannels,
            output_height: placement.outputHeight, output_width: placement.outputWidth, output_channels: filter.outputChannels,
            multiplier: filter.multiplier, kernel_height: window.height, kernel_width: window.width,
            stride_height: window.strideHeight, stride_width: window.strideWidth, dilation_height: window.dilationHeight,
            dilation_width: window.dilationWidth, pad_top: placement.padTop, pad_left: placement.padLeft)
    }

    private static func forEachRowChunk(_ shape: ConvolutionShape, threads: Int, _ body: (Range<Int>) -> Void) {
        Parallel.forEachChunk(count: shape.batch * shape.placement.outputHeight, chunkSize: rowsPerTask, threads: threads, body)
    }

    /// uint8 codes of `count` floats on the grid `(q − zeroPoint)·scale`.
    static func quantize(_ input: UnsafePointer<Float>, count: Int, scale: Float, zeroPoint: Int32, threads: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            QuantizedLinearKernel.quantizeActivations(input, count: count, scale: scale, zeroPoint: zeroPoint,
                                                      output: buffer.baseAddress!, threads: threads)
            initialized = count
        }
    }
}

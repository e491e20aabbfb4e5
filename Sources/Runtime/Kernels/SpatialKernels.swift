import Foundation
import ModelGraph

/// Pooling, batch normalisation and softmax over NHWC / row-major tensors. Loops are split
/// into chunks fixed by the shape, so results do not depend on the thread count.
public enum SpatialKernels {
    /// Max or average pooling; `input` `[batch, H, W, C]`, `output` `[batch, OH, OW, C]`.
    public static func pool(_ input: UnsafePointer<Float>, shape: ConvolutionShape, attributes: Pool2DAttributes,
                            output: UnsafeMutablePointer<Float>, threads: Int) {
        let window = shape.window, placement = shape.placement, channels = shape.inputChannels
        let boxes = UncheckedSendable((input, output))
        let isMax = attributes.kind == .max
        Parallel.forEachChunk(count: shape.batch * placement.outputHeight, chunkSize: 2, threads: threads) { rows in
            let (input, output) = boxes.value
            for row in rows {
                let image = row / placement.outputHeight, outputY = row % placement.outputHeight
                for outputX in 0..<placement.outputWidth {
                    let result = output + (row * placement.outputWidth + outputX) * channels
                    result.update(repeating: isMax ? -Float.infinity : 0, count: channels)
                    var counted = 0
                    for kernelY in 0..<window.height {
                        let inputY = outputY * window.strideHeight - placement.padTop + kernelY * window.dilationHeight
                        for kernelX in 0..<window.width {
                            let inputX = outputX * window.strideWidth - placement.padLeft + kernelX * window.dilationWidth
                            guard inputY >= 0, inputY < shape.inputHeight, inputX >= 0, inputX < shape.inputWidth else {
                                // A padded pixel: zero for averages that count it; never a maximum.
                                if attributes.countsPadding { counted += 1 }
                                continue
                            }
                            counted += 1
                            let source = input + ((image * shape.inputHeight + inputY) * shape.inputWidth + inputX) * channels
                            if isMax {
                                for channel in 0..<channels { result[channel] = max(result[channel], source[channel]) }
                            } else {
                                for channel in 0..<channels { result[channel] += source[channel] }
                            }
                        }
                    }
                    if !isMax {
                        let scale = 1 / Float(max(counted, 1))
                        for channel in 0..<channels { result[channel] *= scale }
                    }
                }
            }
        }
    }

    /// `[batch, pixels, channels]` → `[batch, channels]`, the mean over pixels (summed in
    /// pixel order, in Double).
    public static func globalAveragePool(_ input: UnsafePointer<Float>, batch: Int, pixels: Int, channels: Int) -> [Float] {
        var result = [Float](repeating: 0, count: batch * channels)
        var sums = [Double](repeating: 0, count: channels)
        for image in 0..<batch {
            for channel in 0..<channels { sums[channel] = 0 }
            for pixel in 0..<pixels {
                let source = input + (image * pixels + pixel) * channels
                for channel in 0..<channels { sums[channel] += Double(source[channel]) }
            }
            for channel in 0..<channels { result[image * channels + channel] = Float(sums[channel] / Double(pixels)) }
        }
        return result
    }

    /// Batch normalisation in place over the last axis, as `x·scale + shift` with
    /// `scale = weight / sqrt(variance + ε)` and `shift = bias − mean·scale`.
    public static func batchNorm(_ values: UnsafeMutablePointer<Float>, rows: Int, scale: [Float], shift: [Float], threads: Int) {
        let channels = scale.count
        let box = UncheckedSendable(values)
        scale.withUnsafeBufferPointer { scale in
            shift.withUnsafeBufferPointer { shift in
                let parameters = UncheckedSendable((scale.baseAddress!, shift.baseAddress!))
                Parallel.forEachChunk(count: rows, chunkSize: 256, threads: threads) { range in
                    let (scale, shift) = parameters.value
                    let rawScale = UnsafeRawPointer(scale), rawShift = UnsafeRawPointer(shift)
                    let stride = MemoryLayout<Float>.stride
                    for row in range {
                        let values = box.value + row * channels
                        let rawValues = UnsafeMutableRawPointer(values)
                        var channel = 0
                        while channel + 8 <= channels {
                            let offset = channel * stride
                            let value = rawValues.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                            let result = value * rawScale.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                                + rawShift.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                            rawValues.storeBytes(of: result, toByteOffset: offset, as: SIMD8<Float>.self)
                            channel += 8
                        }
                        while channel < channels {
                            values[channel] = values[channel] * scale[channel] + shift[channel]
                            channel += 1
                        }
                    }
                }
            }
        }
    }

    /// The per-channel scale and shift of an inference batch norm.
    public static func batchNormAffine(weight: [Float], bias: [Float], mean: [Float], variance: [Float],
                                       epsilon: Float) -> (scale: [Float], shift: [Float]) {
        var scale = [Float](repeating: 0, count: weight.count), shift = scale
        for channel in 0..<weight.count {
            scale[channel] = weight[channel] / (variance[channel] + epsilon).squareRoot()
            shift[channel] = bias[channel] - mean[channel] * scale[channel]
        }
        return (scale, shift)
    }

    /// Numerically stable softmax in place over rows of `width` values.
    public static func softmax(_ values: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        for row in 0..<rows {
            let values = values + row * width
            var largest = -Float.infinity
            for index in 0..<width { largest = max(largest, values[index]) }
            var sum: Float = 0
            for index in 0..<width {
                values[index] = Foundation.exp(values[index] - largest)
                sum += values[index]
            }
            for index in 0..<width { values[index] /= sum }
        }
    }
}

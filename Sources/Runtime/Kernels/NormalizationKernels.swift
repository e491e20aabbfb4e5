import Foundation

/// Layer normalisation, pooling and L2 normalisation on row-major buffers.
public enum NormalizationKernels {
    /// Normalises each row of `[rows, width]` to zero mean and unit variance, then scales
    /// by `weight` and shifts by `bias` (biased variance, as PyTorch's LayerNorm).
    public static func layerNorm(_ values: UnsafeMutablePointer<Float>, rows: Int, width: Int,
                                 weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                 epsilon: Float, threads: Int) {
        let box = UncheckedSendable(values)
        Parallel.forEachChunk(count: rows, chunkSize: 64, threads: threads) { range in
            for row in range {
                let pointer = box.value + row * width
                var sum: Float = 0
                for index in 0..<width { sum += pointer[index] }
                let mean = sum / Float(width)
                var squares: Float = 0
                for index in 0..<width {
                    let centred = pointer[index] - mean
                    squares += centred * centred
                }
                let inverse = 1 / (squares / Float(width) + epsilon).squareRoot()
                for index in 0..<width {
                    pointer[index] = (pointer[index] - mean) * inverse * weight[index] + bias[index]
                }
            }
        }
    }

    /// Mean over the sequence of `[batch, sequence, width]`, counting only positions whose
    /// mask is non-zero; the divisor is clamped at 1e-9 as sentence-transformers does.
    public static func maskedMean(_ values: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                                  batch: Int, sequence: Int, width: Int) -> [Float] {
        var result = [Float](repeating: 0, count: batch * width)
        for item in 0..<batch {
            var count: Float = 0
            for position in 0..<sequence where mask[item * sequence + position] != 0 {
                count += mask[item * sequence + position]
                let row = values + (item * sequence + position) * width
                for index in 0..<width { result[item * width + index] += row[index] * mask[item * sequence + position] }
            }
            let divisor = max(count, 1e-9)
            for index in 0..<width { result[item * width + index] /= divisor }
        }
        return result
    }

    /// Divides each row of `[rows, width]` by max(‖row‖₂, 1e-12).
    public static func l2Normalize(_ values: inout [Float], rows: Int, width: Int) {
        for row in 0..<rows {
            var squares: Float = 0
            for index in 0..<width { squares += values[row * width + index] * values[row * width + index] }
            let norm = max(squares.squareRoot(), 1e-12)
            for index in 0..<width { values[row * width + index] /= norm }
        }
    }
}

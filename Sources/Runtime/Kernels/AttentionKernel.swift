import CBLAS
import Foundation

/// Multi-head scaled dot-product attention on `[batch, sequence, heads · headSize]`
/// buffers, one (batch item, head) pair per task.
public enum AttentionKernel {
    /// Writes the attention output into `output` (same layout as `query`). `mask`
    /// (`[batch, sequence]`, 1 = attend) hides padding keys; it may be nil.
    public static func apply(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
                             mask: UnsafePointer<Float>?, batch: Int, sequence: Int, heads: Int, headSize: Int,
                             output: UnsafeMutablePointer<Float>, threads: Int) {
        let width = heads * headSize
        let scale = 1 / Float(headSize).squareRoot()
        let outputBox = UncheckedSendable(output)
        let maskBox = UncheckedSendable(mask)
        Parallel.forEachChunk(count: batch * heads, chunkSize: 1, threads: threads) { range in
            var scores = [Float](repeating: 0, count: sequence * sequence)
            for task in range {
                let item = task / heads
                let head = task % heads
                let offset = item * sequence * width + head * headSize
                scores.withUnsafeMutableBufferPointer { scores in
                    let scoreBase = scores.baseAddress!
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                                Int32(sequence), Int32(sequence), Int32(headSize), scale,
                                query + offset, Int32(width), key + offset, Int32(width),
                                0, scoreBase, Int32(sequence))
                    for row in 0..<sequence {
                        softmaxRow(scoreBase + row * sequence, count: sequence,
                                   mask: maskBox.value.map { $0 + item * sequence })
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                                Int32(sequence), Int32(headSize), Int32(sequence), 1,
                                scoreBase, Int32(sequence), value + offset, Int32(width),
                                0, outputBox.value + offset, Int32(width))
                }
            }
        }
    }

    /// Softmax of one row in place; keys whose mask is 0 get probability 0. A row with every
    /// key masked becomes uniform over all keys (as adding a large negative bias does).
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, count: Int, mask: UnsafePointer<Float>?) {
        var maximum = -Float.infinity
        for index in 0..<count where mask == nil || mask![index] != 0 {
            maximum = max(maximum, row[index])
        }
        if maximum == -.infinity {
            for index in 0..<count { row[index] = 1 / Float(count) }
            return
        }
        var sum: Float = 0
        for index in 0..<count {
            if let mask, mask[index] == 0 {
                row[index] = 0
            } else {
                let exponential = exp(row[index] - maximum)
                row[index] = exponential
                sum += exponential
            }
        }
        let inverse = 1 / sum
        for index in 0..<count { row[index] *= inverse }
    }
}

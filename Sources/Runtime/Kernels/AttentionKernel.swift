import CBLAS
import CKernels
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
                        aimet_softmax_row_f32(scoreBase + row * sequence, maskBox.value.map { $0 + item * sequence }, sequence)
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                                Int32(sequence), Int32(headSize), Int32(sequence), 1,
                                scoreBase, Int32(sequence), value + offset, Int32(width),
                                0, outputBox.value + offset, Int32(width))
                }
            }
        }
    }
}

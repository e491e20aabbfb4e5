import CKernels

/// Multi-head scaled dot-product attention on `[batch, sequence, heads · headSize]`
/// buffers, one (batch item, head) pair per task, through the packed GEMM kernel.
public enum AttentionKernel {
    /// Writes the attention output into `output` (same layout as `query`). `mask`
    /// (`[batch, sequence]`, 1 = attend) hides padding keys; it may be nil.
    public static func apply(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
                             mask: UnsafePointer<Float>?, batch: Int, sequence: Int, heads: Int, headSize: Int,
                             output: UnsafeMutablePointer<Float>, threads: Int) {
        let width = heads * headSize
        let scale = 1 / Float(headSize).squareRoot()
        let box = UncheckedSendable((query, key, value, mask, output))
        Parallel.forEachChunk(count: batch * heads, chunkSize: 1, threads: threads) { range in
            let (query, key, value, mask, output) = box.value
            var scores = [Float](repeating: 0, count: sequence * sequence)
            var packed = [Float](repeating: 0, count: aimet_sgemm_packed_count(max(sequence, headSize), max(sequence, headSize)))
            for task in range {
                let item = task / heads, head = task % heads
                let offset = item * sequence * width + head * headSize
                scores.withUnsafeMutableBufferPointer { scores in
                    packed.withUnsafeMutableBufferPointer { packed in
                        let scoreBase = scores.baseAddress!, packedBase = packed.baseAddress!
                        // scores = Q·Kᵀ (scaled inside the softmax).
                        aimet_sgemm_pack_transposed(key + offset, width, sequence, headSize, packedBase)
                        aimet_sgemm_packed(sequence, sequence, headSize, query + offset, width, packedBase, nil, scoreBase, sequence)
                        let rowMask = mask.map { $0 + item * sequence }
                        for row in 0..<sequence {
                            aimet_softmax_row_f32(scoreBase + row * sequence, rowMask, sequence, scale)
                        }
                        // output = P·V.
                        aimet_sgemm_pack(value + offset, width, sequence, headSize, packedBase)
                        aimet_sgemm_packed(sequence, headSize, sequence, scoreBase, sequence, packedBase, nil, output + offset, width)
                    }
                }
            }
        }
    }
}

import CBLAS

/// fp32 `y = x·Wᵀ + b` through OpenBLAS (single-threaded calls), parallelised here: over
/// rows for tall inputs, over output columns for short ones (batch-1 decoding and small
/// batches, where each thread then streams only its half of the weights).
public enum LinearKernel {
    /// Below this many rows the work is split over output columns instead of rows.
    static let columnSplitRows = 64

    /// `input` is `[rows, inputs]`, `weight` `[outputs, inputs]`, `bias` `[outputs]` or nil;
    /// writes `[rows, outputs]` into `output`.
    public static func apply(input: UnsafePointer<Float>, rows: Int, inputs: Int,
                             weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outputs: Int,
                             output: UnsafeMutablePointer<Float>, threads: Int) {
        let outputBox = UncheckedSendable(output)
        if let bias {
            for row in 0..<rows { (output + row * outputs).update(from: bias, count: outputs) }
        }
        let beta: Float = bias == nil ? 0 : 1
        if rows < columnSplitRows && threads > 1 {
            let columnsPerChunk = max(32, ((outputs + threads - 1) / threads + 15) / 16 * 16)
            Parallel.forEachChunk(count: outputs, chunkSize: columnsPerChunk, threads: threads) { columns in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                            Int32(rows), Int32(columns.count), Int32(inputs), 1,
                            input, Int32(inputs),
                            weight + columns.lowerBound * inputs, Int32(inputs), beta,
                            outputBox.value + columns.lowerBound, Int32(outputs))
            }
            return
        }
        let rowsPerChunk = max(16, (rows + threads - 1) / max(1, threads))
        Parallel.forEachChunk(count: rows, chunkSize: rowsPerChunk, threads: threads) { range in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                        Int32(range.count), Int32(outputs), Int32(inputs), 1,
                        input + range.lowerBound * inputs, Int32(inputs),
                        weight, Int32(inputs), beta,
                        outputBox.value + range.lowerBound * outputs, Int32(outputs))
        }
    }

    /// The plain triple loop the fast path is tested against.
    public static func reference(input: [Float], rows: Int, inputs: Int, weight: [Float],
                                 bias: [Float]?, outputs: Int) -> [Float] {
        var result = [Float](repeating: 0, count: rows * outputs)
        for row in 0..<rows {
            for column in 0..<outputs {
                var sum: Double = bias.map { Double($0[column]) } ?? 0
                for index in 0..<inputs {
                    sum += Double(input[row * inputs + index]) * Double(weight[column * inputs + index])
                }
                result[row * outputs + column] = Float(sum)
            }
        }
        return result
    }
}

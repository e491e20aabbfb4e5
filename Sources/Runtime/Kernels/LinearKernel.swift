import CKernels

/// fp32 `y = x·Wᵀ + b` on pre-packed weights, parallelised over rows for tall inputs and
/// over 16-column panels for short ones (batch-1 work, where each thread then streams only
/// its share of the weights). The split depends only on the shape, never on the thread
/// count, and every output is reduced in the same order, so results are bit-identical for
/// any number of threads.
public enum LinearKernel {
    /// Below this many rows the work is split over output columns instead of rows.
    static let columnSplitRows = 48
    /// Largest number of rows per task when splitting over rows.
    static let maximumRowsPerTask = 96

    /// Rows per task: an even number of balanced tasks of at most `maximumRowsPerTask`
    /// rows, each a multiple of the 6-row micro-kernel (a function of `rows` only).
    static func rowsPerTask(rows: Int) -> Int {
        var tasks = max(2, (rows + maximumRowsPerTask - 1) / maximumRowsPerTask)
        tasks += tasks % 2
        return ((rows + tasks - 1) / tasks + 5) / 6 * 6
    }

    /// `input` is `[rows, inputs]`; writes `[rows, weight.columns]` into `output`.
    public static func apply(input: UnsafePointer<Float>, rows: Int, weight: PackedMatrix,
                             bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, threads: Int) {
        let inputs = weight.depth, outputs = weight.columns
        let inputBox = UncheckedSendable(input), outputBox = UncheckedSendable(output), biasBox = UncheckedSendable(bias)
        weight.storage.withUnsafeBufferPointer { packed in
            let packedBox = UncheckedSendable(packed.baseAddress!)
            if rows < columnSplitRows {
                let panelsPerTask = max(1, (weight.panels + 3) / 4)
                Parallel.forEachChunk(count: weight.panels, chunkSize: panelsPerTask, threads: threads) { panels in
                    let firstColumn = panels.lowerBound * 16
                    let columns = min(outputs, panels.upperBound * 16) - firstColumn
                    aimet_sgemm_packed(rows, columns, inputs, inputBox.value, inputs,
                                       packedBox.value + panels.lowerBound * weight.panelStride,
                                       biasBox.value.map { $0 + firstColumn }, outputBox.value + firstColumn, outputs)
                }
            } else {
                Parallel.forEachChunk(count: rows, chunkSize: rowsPerTask(rows: rows), threads: threads) { range in
                    aimet_sgemm_packed(range.count, outputs, inputs, inputBox.value + range.lowerBound * inputs, inputs,
                                       packedBox.value, biasBox.value, outputBox.value + range.lowerBound * outputs, outputs)
                }
            }
        }
    }

    /// The plain triple loop the fast path is tested against (Double accumulation).
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

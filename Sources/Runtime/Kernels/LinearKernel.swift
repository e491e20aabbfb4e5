import CBLAS

/// fp32 `y = x·Wᵀ + b` through OpenBLAS, split over rows across threads.
public enum LinearKernel {
    /// `input` is `[rows, inputs]`, `weight` `[outputs, inputs]`, `bias` `[outputs]` or nil;
    /// writes `[rows, outputs]` into `output`.
    public static func apply(input: UnsafePointer<Float>, rows: Int, inputs: Int,
                             weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outputs: Int,
                             output: UnsafeMutablePointer<Float>, threads: Int) {
        let rowsPerChunk = max(16, (rows + threads - 1) / max(1, threads))
        let outputBox = UncheckedSendable(output)
        Parallel.forEachChunk(count: rows, chunkSize: rowsPerChunk, threads: threads) { range in
            let destination = outputBox.value + range.lowerBound * outputs
            if let bias {
                for row in 0..<range.count {
                    (destination + row * outputs).update(from: bias, count: outputs)
                }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                        Int32(range.count), Int32(outputs), Int32(inputs), 1,
                        input + range.lowerBound * inputs, Int32(inputs),
                        weight, Int32(inputs), bias == nil ? 0 : 1,
                        destination, Int32(outputs))
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

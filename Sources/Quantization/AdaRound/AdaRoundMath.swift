import CBLAS
import Runtime

/// The dense products around AdaRound, in fixed row blocks (so results do not depend on the
/// thread count) on single-threaded `cblas_sgemm` calls spread over the worker pool.
enum AdaRoundMath {
    /// Rows per parallel block.
    static let blockRows = 64

    /// OpenBLAS's own threading, switched off before the first product of the process.
    ///
    /// OpenBLAS starts with one thread per core, and its multi-threaded `sgemm` splits a product
    /// differently from the single-threaded one, so elements round differently (measured with
    /// OpenBLAS 0.3.21: 1977 of the 64×150 elements of a 64×150×40 product differ).
    /// `aimet_blas_use_single_thread` marks itself done before it has switched, so a second
    /// caller in that window could run its products multi-threaded. A `static let` initialiser
    /// runs exactly once and makes every concurrent caller wait until it has finished.
    private static let singleThreadedBLAS: Void = aimet_blas_use_single_thread()

    /// Ensures OpenBLAS runs single-threaded before any AdaRound product.
    static func useSingleThreadedBLAS() { singleThreadedBLAS }

    /// `output[rows, outputs] = input[rows, inputs] · weight[outputs, inputs]ᵀ`.
    static func multiply(_ input: [Float], rows: Int, _ weight: [Float], outputs: Int, inputs: Int,
                         into output: inout [Float], threads: Int) {
        precondition(input.count == rows * inputs && weight.count == outputs * inputs && output.count == rows * outputs)
        useSingleThreadedBLAS()
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    let x = UncheckedSendable(x.baseAddress), w = UncheckedSendable(w.baseAddress), y = UncheckedSendable(y.baseAddress)
                    Parallel.forEachChunk(count: rows, chunkSize: blockRows, threads: threads) { block in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(block.count), Int32(outputs), Int32(inputs), 1,
                                    x.value! + block.lowerBound * inputs, Int32(inputs), w.value!, Int32(inputs), 0,
                                    y.value! + block.lowerBound * outputs, Int32(outputs))
                    }
                }
            }
        }
    }

    /// The reconstruction loss of `weight` on all of `data`'s rows: `‖X·Wᵀ − T‖² / rows`
    /// (squared error summed over output features, averaged over rows).
    static func reconstructionLoss(weight: [Float], data: AdaRoundLayerData, threads: Int) -> Double {
        let rows = data.rows, outputs = data.outputFeatures
        guard rows > 0 else { return 0 }
        var output = [Float](repeating: 0, count: rows * outputs)
        multiply(data.inputs, rows: rows, weight, outputs: outputs, inputs: data.inputFeatures, into: &output, threads: threads)
        var total = 0.0
        // Fixed-order reduction: one partial sum per row block, added in block order.
        for start in stride(from: 0, to: rows, by: blockRows) {
            var partial = 0.0
            for index in start * outputs..<min(rows, start + blockRows) * outputs {
                let difference = Double(output[index]) - Double(data.targets[index])
                partial += difference * difference
            }
            total += partial
        }
        return total / Double(rows)
    }
}

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
        layerOutput(weight: weight, data: data, into: &output, threads: threads)
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

    /// The layer's output on all of `data`'s rows, `[rows, outputs]`, for `weight` (`[outputs,
    /// columns]`), in the product `data.layout` names.
    static func layerOutput(weight: [Float], data: AdaRoundLayerData, into output: inout [Float], threads: Int) {
        switch data.layout {
        case .dense:
            multiply(data.inputs, rows: data.rows, weight, outputs: data.outputFeatures, inputs: data.inputFeatures, into: &output,
                     threads: threads)
        case .depthwise:
            depthwiseMultiply(data.inputs, rows: data.rows, weight, channels: data.outputFeatures, taps: data.inputFeatures,
                              into: &output, threads: threads)
        }
    }

    /// Depthwise product `output[r, c] = Σₜ input[r, t, c] · weight[c, t]` (`input` `[rows, taps,
    /// channels]`, `weight` `[channels, taps]`), in fixed row blocks.
    static func depthwiseMultiply(_ input: [Float], rows: Int, _ weight: [Float], channels: Int, taps: Int,
                                  into output: inout [Float], threads: Int) {
        precondition(input.count == rows * taps * channels && weight.count == channels * taps && output.count == rows * channels)
        var transposed = [Float](repeating: 0, count: taps * channels)
        for channel in 0..<channels {
            for tap in 0..<taps { transposed[tap * channels + channel] = weight[channel * taps + tap] }
        }
        input.withUnsafeBufferPointer { x in
            transposed.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    let x = UncheckedSendable(x.baseAddress!), w = UncheckedSendable(w.baseAddress!), y = UncheckedSendable(y.baseAddress!)
                    Parallel.forEachChunk(count: rows, chunkSize: blockRows, threads: threads) { block in
                        for row in block {
                            let result = y.value + row * channels, values = x.value + row * taps * channels
                            for channel in 0..<channels { result[channel] = 0 }
                            for tap in 0..<taps {
                                let tapValues = values + tap * channels, tapWeights = w.value + tap * channels
                                for channel in 0..<channels { result[channel] += tapValues[channel] * tapWeights[channel] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// One AdaRound step's products for the channels `block` of a depthwise layer: the residual
    /// `R[r, c] = Σₜ X[r, t, c]·W̃[c, t] − T[r, c]` and the gradient `∂L/∂W̃[c, t] = 2/rows · Σᵣ R[r, c]·X[r, t, c]`
    /// (`x` `[rows, taps, channels]`, `soft` and `gradient` `[channels, taps]`, `targets` and
    /// `residual` `[rows, channels]`). Sums run in a fixed order.
    static func depthwiseStep(_ x: UnsafePointer<Float>, rows: Int, taps: Int, channels: Int, block: Range<Int>,
                              soft: UnsafePointer<Float>, targets: UnsafePointer<Float>, residual: UnsafeMutablePointer<Float>,
                              gradient: UnsafeMutablePointer<Float>) {
        let first = block.lowerBound, count = block.count
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * taps * count) { scratch in
            let weights = scratch.baseAddress!, sums = weights + taps * count
            for channel in 0..<count {
                for tap in 0..<taps { weights[tap * count + channel] = soft[(first + channel) * taps + tap] }
            }
            for index in 0..<taps * count { sums[index] = 0 }
            for row in 0..<rows {
                let values = x + row * taps * channels + first
                let result = residual + row * channels + first, target = targets + row * channels + first
                for channel in 0..<count { result[channel] = -target[channel] }
                for tap in 0..<taps {
                    let tapValues = values + tap * channels, tapWeights = weights + tap * count
                    for channel in 0..<count { result[channel] += tapValues[channel] * tapWeights[channel] }
                }
                for tap in 0..<taps {
                    let tapValues = values + tap * channels, tapSums = sums + tap * count
                    for channel in 0..<count { tapSums[channel] += result[channel] * tapValues[channel] }
                }
            }
            let factor = 2 / Float(rows)
            for channel in 0..<count {
                for tap in 0..<taps { gradient[(first + channel) * taps + tap] = factor * sums[tap * count + channel] }
            }
        }
    }
}

import CKernels

/// Integer linear layers on packed quantized weights: W8A8 (uint8 activations × int8
/// weights, exact int32 accumulation, requantised to float), W8A16 (16-bit activations × int8
/// weights, exact accumulation, requantised to float) and weight-only int8 / int4
/// with float activations. Work is split exactly like `LinearKernel`: over 16-column panels
/// for short inputs, over rows for tall ones, with chunk sizes that depend only on the shape,
/// so results are bit-identical for any number of threads.
public enum QuantizedLinearKernel {
    /// Elements per task when quantizing activations in parallel.
    static let quantizeChunk = 1 << 16

    /// `output[i] = clamp(round_half_even(input[i] / scale) + zeroPoint, 0, 255)`: the
    /// unsigned 8-bit grid `x̂ = (q − zeroPoint)·scale` the W8A8 kernel takes. NaN maps to 0.
    public static func quantizeActivations(_ input: UnsafePointer<Float>, count: Int, scale: Float, zeroPoint: Int32,
                                           output: UnsafeMutablePointer<UInt8>, threads: Int) {
        let inputBox = UncheckedSendable(input), outputBox = UncheckedSendable(output)
        Parallel.forEachChunk(count: count, chunkSize: quantizeChunk, threads: threads) { range in
            aimet_quantize_activations_u8(inputBox.value + range.lowerBound, range.count, scale, zeroPoint,
                                          outputBox.value + range.lowerBound)
        }
    }

    /// In place: every value replaced by its value on `grid`, bit for bit what
    /// `Quantizer.fakeQuantize` gives with the per-tensor encoding the grid came from.
    public static func fakeQuantize(_ values: UnsafeMutablePointer<Float>, count: Int, grid: QuantizedOutputGrid, threads: Int) {
        let valuesBox = UncheckedSendable(values)
        Parallel.forEachChunk(count: count, chunkSize: quantizeChunk, threads: threads) { range in
            var cGrid = aimet_w8a8_output_grid(scale: grid.scale, low: grid.low, high: grid.high)
            aimet_fake_quantize_f32(valuesBox.value + range.lowerBound, range.count, &cGrid)
        }
    }

    /// `output[i, j] = s_a·s_w[j]·Σ_k (input[i, k] − zeroPoint)·W[j, k] + bias[j]`, with
    /// `input` `[rows, weight.depth]` quantized activations and `output` `[rows, weight.columns]`.
    public static func applyW8A8(input: UnsafePointer<UInt8>, rows: Int, activationScale: Float, zeroPoint: Int32,
                                 weight: PackedInt8Matrix, bias: UnsafePointer<Float>?,
                                 output: UnsafeMutablePointer<Float>, threads: Int) {
        let inputs = weight.depth, outputs = weight.columns
        let inputBox = UncheckedSendable(input), outputBox = UncheckedSendable(output), biasBox = UncheckedSendable(bias)
        weight.storage.withUnsafeBufferPointer { packed in
            weight.columnSums.withUnsafeBufferPointer { sums in
                weight.scales.withUnsafeBufferPointer { scales in
                    let packedBox = UncheckedSendable(packed.baseAddress), sumsBox = UncheckedSendable(sums.baseAddress)
                    let scalesBox = UncheckedSendable(scales.baseAddress)
                    split(rows: rows, columns: outputs, panels: weight.panels, threads: threads) { rowRange, panelRange in
                        let column = panelRange.lowerBound * 16
                        let columns = min(outputs, panelRange.upperBound * 16) - column
                        aimet_w8a8_gemm_f32(rowRange.count, columns, inputs, inputBox.value + rowRange.lowerBound * inputs, inputs,
                                            activationScale, zeroPoint,
                                            packedBox.value.map { $0 + panelRange.lowerBound * weight.panelStride },
                                            sumsBox.value.map { $0 + column }, scalesBox.value.map { $0 + column },
                                            biasBox.value.map { $0 + column },
                                            outputBox.value + rowRange.lowerBound * outputs + column, outputs)
                    }
                }
            }
        }
    }

    /// The fused W8A8 layer on float `input` `[rows, weight.depth]`: every row is quantized
    /// once in the kernel's prologue exactly as `quantizeActivations` does, then
    /// `output[i, j] = s_a·s_w[j]·Σ_k (q[i, k] − zeroPoint)·W[j, k] + bias[j]` as in `applyW8A8`,
    /// fake-quantized on `outputGrid` in the same pass when it is given. Bit-identical to
    /// `quantizeActivations` + `applyW8A8` (+ `Quantizer.fakeQuantize` of the output).
    public static func applyW8A8(floatInput input: UnsafePointer<Float>, rows: Int, activationScale: Float,
                                 zeroPoint: Int32, weight: PackedInt8Matrix, bias: UnsafePointer<Float>?,
                                 outputGrid: QuantizedOutputGrid?, output: UnsafeMutablePointer<Float>, threads: Int) {
        let inputs = weight.depth, outputs = weight.columns
        let inputBox = UncheckedSendable(input), outputBox = UncheckedSendable(output), biasBox = UncheckedSendable(bias)
        var grid = aimet_w8a8_output_grid(scale: outputGrid?.scale ?? 1, low: outputGrid?.low ?? 0, high: outputGrid?.high ?? 0)
        let useGrid = outputGrid != nil
        withUnsafePointer(to: &grid) { grid in
            let gridBox = UncheckedSendable(useGrid ? grid : nil)
            weight.storage.withUnsafeBufferPointer { packed in
                weight.columnSums.withUnsafeBufferPointer { sums in
                    weight.scales.withUnsafeBufferPointer { scales in
                        let packedBox = UncheckedSendable(packed.baseAddress), sumsBox = UncheckedSendable(sums.baseAddress)
                        let scalesBox = UncheckedSendable(scales.baseAddress)
                        split(rows: rows, columns: outputs, panels: weight.panels, threads: threads) { rowRange, panelRange in
                            let column = panelRange.lowerBound * 16
                            let columns = min(outputs, panelRange.upperBound * 16) - column
                            aimet_w8a8_linear_f32(rowRange.count, columns, inputs, inputBox.value + rowRange.lowerBound * inputs,
                                                  inputs, activationScale, zeroPoint,
                                                  packedBox.value.map { $0 + panelRange.lowerBound * weight.panelStride },
                                                  sumsBox.value.map { $0 + column }, scalesBox.value.map { $0 + column },
                                                  biasBox.value.map { $0 + column }, gridBox.value,
                                                  outputBox.value + rowRange.lowerBound * outputs + column, outputs)
                        }
                    }
                }
            }
        }
    }

    /// The exact int32 accumulators `Σ_k (input[i, k] − zeroPoint)·W[j, k]` of `applyW8A8`.
    public static func accumulateW8A8(input: UnsafePointer<UInt8>, rows: Int, zeroPoint: Int32, weight: PackedInt8Matrix,
                                      output: UnsafeMutablePointer<Int32>, threads: Int) {
        let inputs = weight.depth, outputs = weight.columns
        let inputBox = UncheckedSendable(input), outputBox = UncheckedSendable(output)
        weight.storage.withUnsafeBufferPointer { packed in
            weight.columnSums.withUnsafeBufferPointer { sums in
                let packedBox = UncheckedSendable(packed.baseAddress), sumsBox = UncheckedSendable(sums.baseAddress)
                split(rows: rows, columns: outputs, panels: weight.panels, threads: threads) { rowRange, panelRange in
                    let column = panelRange.lowerBound * 16
                    let columns = min(outputs, panelRange.upperBound * 16) - column
                    aimet_w8a8_gemm_s32(rowRange.count, columns, inputs, inputBox.value + rowRange.lowerBound * inputs, inputs,
                                        zeroPoint, packedBox.value.map { $0 + panelRange.lowerBound * weight.panelStride },
                                        sumsBox.value.map { $0 + column },
                                        outputBox.value + rowRange.lowerBound * outputs + column, outputs)
                }
            }
        }
    }

    /// The W8A16 layer on float `input` `[rows, weight.depth]`: every row is quantized once in
    /// the kernel's prologue onto `inputGrid` (codes q), then the exact integer
    /// `acc[i, j] = Σ_k (q[i, k] − zeroPoint)·W[j, k]` is rounded to float once and
    /// `output[i, j] = fma(acc, s_a·s_w[j], bias[j])`, fake-quantized on `outputGrid` when given.
    /// Bit-identical for any thread count and between the AVX2 and portable paths.
    public static func applyW8A16(floatInput input: UnsafePointer<Float>, rows: Int, inputGrid: SixteenBitInputGrid,
                                  weight: PackedW8A16Matrix, bias: UnsafePointer<Float>?, outputGrid: QuantizedOutputGrid?,
                                  output: UnsafeMutablePointer<Float>, threads: Int) {
        let inputs = weight.depth, outputs = weight.columns
        let inputBox = UncheckedSendable(input), outputBox = UncheckedSendable(output), biasBox = UncheckedSendable(bias)
        var grid = aimet_w8a8_output_grid(scale: outputGrid?.scale ?? 1, low: outputGrid?.low ?? 0, high: outputGrid?.high ?? 0)
        var cInput = inputGrid.cGrid
        let useGrid = outputGrid != nil
        withUnsafePointer(to: &grid) { grid in
            withUnsafePointer(to: &cInput) { cInput in
                let gridBox = UncheckedSendable(useGrid ? grid : nil), cInputBox = UncheckedSendable(cInput)
                weight.storage.withUnsafeBufferPointer { packed in
                    weight.columnSums.withUnsafeBufferPointer { sums in
                        weight.scales.withUnsafeBufferPointer { scales in
                            let packedBox = UncheckedSendable(packed.baseAddress), sumsBox = UncheckedSendable(sums.baseAddress)
                            let scalesBox = UncheckedSendable(scales.baseAddress)
                            split(rows: rows, columns: outputs, panels: weight.panels, threads: threads) { rowRange, panelRange in
                                let column = panelRange.lowerBound * 16
                                let columns = min(outputs, panelRange.upperBound * 16) - column
                                aimet_w8a16_linear_f32(rowRange.count, columns, inputs, inputBox.value + rowRange.lowerBound * inputs,
                                                       inputs, cInputBox.value,
                                                       packedBox.value.map { $0 + panelRange.lowerBound * weight.panelStride },
                                                       sumsBox.value.map { $0 + column }, scalesBox.value.map { $0 + column },
                                                       biasBox.value.map { $0 + column }, gridBox.value,
                                                       outputBox.value + rowRange.lowerBound * outputs + column, outputs)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The exact integer sums `Σ_k (q[i, k] − zeroPoint)·W[j, k]` of `applyW8A16` (q the codes of
    /// `input` on `inputGrid`), `output` `[rows, weight.columns]`.
    public static func accumulateW8A16(floatInput input: UnsafePointer<Float>, rows: Int, inputGrid: SixteenBitInputGrid,
                                       weight: PackedW8A16Matrix, output: UnsafeMutablePointer<Int64>, threads: Int) {
        let inputs = weight.depth, outputs = weight.columns
        let inputBox = UncheckedSendable(input), outputBox = UncheckedSendable(output)
        var cInput = inputGrid.cGrid
        withUnsafePointer(to: &cInput) { cInput in
            let cInputBox = UncheckedSendable(cInput)
            weight.storage.withUnsafeBufferPointer { packed in
                weight.columnSums.withUnsafeBufferPointer { sums in
                    let packedBox = UncheckedSendable(packed.baseAddress), sumsBox = UncheckedSendable(sums.baseAddress)
                    split(rows: rows, columns: outputs, panels: weight.panels, threads: threads) { rowRange, panelRange in
                        let column = panelRange.lowerBound * 16
                        let columns = min(outputs, panelRange.upperBound * 16) - column
                        aimet_w8a16_linear_s64(rowRange.count, columns, inputs, inputBox.value + rowRange.lowerBound * inputs,
                                               inputs, cInputBox.value,
                                               packedBox.value.map { $0 + panelRange.lowerBound * weight.panelStride },
                                               sumsBox.value.map { $0 + column },
                                               outputBox.value + rowRange.lowerBound * outputs + column, outputs)
                    }
                }
            }
        }
    }

    /// `output = input·dequant(W)ᵀ + bias` for float `input` `[rows, weight.depth]`, with the
    /// weights dequantised in the kernel's inner loop.
    public static func applyWeightOnly(input: UnsafePointer<Float>, rows: Int, weight: PackedWeightOnlyMatrix,
                                       bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, threads: Int) {
        let inputs = weight.depth, outputs = weight.columns, bits = Int32(weight.bits)
        let block = weight.granularity.kernelBlock
        let inputBox = UncheckedSendable(input), outputBox = UncheckedSendable(output), biasBox = UncheckedSendable(bias)
        weight.storage.withUnsafeBufferPointer { packed in
            weight.packedScales.withUnsafeBufferPointer { scales in
                withOptionalPointer(weight.packedZeroPoints) { zeroPoints in
                    let packedBox = UncheckedSendable(packed.baseAddress), scalesBox = UncheckedSendable(scales.baseAddress)
                    let zeroPointsBox = UncheckedSendable(zeroPoints)
                    split(rows: rows, columns: outputs, panels: weight.panels, threads: threads) { rowRange, panelRange in
                        let column = panelRange.lowerBound * 16
                        let columns = min(outputs, panelRange.upperBound * 16) - column
                        let scaleOffset = panelRange.lowerBound * weight.panelScaleStride
                        aimet_wo_gemm(bits, rowRange.count, columns, inputs, block,
                                      inputBox.value + rowRange.lowerBound * inputs, inputs,
                                      packedBox.value.map { $0 + panelRange.lowerBound * weight.panelStride },
                                      scalesBox.value.map { $0 + scaleOffset }, zeroPointsBox.value.map { $0 + scaleOffset },
                                      biasBox.value.map { $0 + column },
                                      outputBox.value + rowRange.lowerBound * outputs + column, outputs)
                    }
                }
            }
        }
    }

    /// Runs `body(rows, panels)` over the work: all rows and chunks of panels for short
    /// inputs, chunks of rows and all panels for tall ones (the split of `LinearKernel`).
    static func split(rows: Int, columns: Int, panels: Int, threads: Int,
                      _ body: @escaping (Range<Int>, Range<Int>) -> Void) {
        guard rows > 0, columns > 0 else { return }
        if rows < LinearKernel.columnSplitRows {
            let panelsPerTask = max(1, (panels + 3) / 4)
            Parallel.forEachChunk(count: panels, chunkSize: panelsPerTask, threads: threads) { body(0..<rows, $0) }
        } else {
            Parallel.forEachChunk(count: rows, chunkSize: LinearKernel.rowsPerTask(rows: rows), threads: threads) {
                body($0, 0..<panels)
            }
        }
    }

    private static func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let array else { return body(nil) }
        return array.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

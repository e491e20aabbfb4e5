import CAdaRound
import CBLAS
import Foundation
import QuantCore
import Runtime

/// What AdaRound learns from for one layer: input rows, the fp32 targets, and how the rows
/// group into calibration samples.
///
/// A layer is a matrix product `Y = X·Wᵀ` with `W` `[outputs, inputs]` and `X` `[rows, inputs]`:
/// a linear layer's token rows, or (for a convolution) its im2col rows. `inputs` are the
/// layer's inputs in the already-quantized model; `targets` are `X_fp·Wᵀ`, the fp32 layer's
/// output (without bias, which cancels) on the fp32 model's inputs, as AIMET does it. A
/// *sample* is one calibration input (for MiniLM one sentence, i.e. all of its token rows; for
/// an image all of its spatial positions); each step draws `batchSize` samples and uses all of
/// their rows, so the reconstruction loss is the squared error summed over output features
/// and averaged over the rows of the drawn samples.
public struct AdaRoundLayerData: Sendable {
    /// Input rows, `[rows, inputFeatures]` row-major.
    public var inputs: [Float]
    /// Target rows, `[rows, outputFeatures]` row-major.
    public var targets: [Float]
    /// Rows of each sample, in order (they sum to the number of rows).
    public var sampleRows: [Int]
    /// Weight columns per output (`inputs` of the `[outputs, inputs]` weight).
    public var inputFeatures: Int
    public var outputFeatures: Int
    /// How an input row meets the weight.
    public var layout: Layout

    /// How an input row meets the weight.
    public enum Layout: Sendable, Equatable {
        /// A row holds `inputFeatures` values read by every output: `Y = X·Wᵀ`.
        case dense
        /// Depthwise convolution with one output per input channel: a row holds `taps`
        /// values for each of the `outputFeatures` channels, tap-major (`[taps, channels]`,
        /// the im2col order), and output `c` reads only channel `c`: `Y[r, c] = Σₜ X[r, t, c]·W[c, t]`.
        /// `inputFeatures` is then `taps`.
        case depthwise
    }

    public init(inputs: [Float], targets: [Float], sampleRows: [Int], inputFeatures: Int, outputFeatures: Int,
                layout: Layout = .dense) {
        self.inputs = inputs
        self.targets = targets
        self.sampleRows = sampleRows
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        self.layout = layout
    }

    /// Rows in total.
    public var rows: Int { sampleRows.reduce(0, +) }

    /// Floats per input row.
    public var rowWidth: Int { layout == .dense ? inputFeatures : inputFeatures * outputFeatures }

    /// Targets computed as `inputs·weightᵀ` (the fp32 layer on fp32 inputs), with `sampleRows`.
    public init(quantizedInputs: [Float], floatInputs: [Float], weight: Tensor, sampleRows: [Int], threads: Int) {
        let outputs = weight.shape[0], inputs = weight.shape[1]
        let rows = floatInputs.count / inputs
        var targets = [Float](repeating: 0, count: rows * outputs)
        AdaRoundMath.multiply(floatInputs, rows: rows, weight.scalars, outputs: outputs, inputs: inputs, into: &targets, threads: threads)
        self.init(inputs: quantizedInputs, targets: targets, sampleRows: sampleRows, inputFeatures: inputs, outputFeatures: outputs)
    }
}

/// The outcome of AdaRound on one layer.
public struct AdaRoundLayerResult: Sendable {
    /// The chosen weights, exactly on the encoding's grid: `(⌊w/s⌋ + bit)·s` (clamped to the
    /// grid), or nearest rounding's when that reconstructs better.
    public var weight: Tensor
    /// Reconstruction loss over all rows with nearest rounding and with AdaRound's rounding.
    public var nearestLoss: Double
    public var adaRoundLoss: Double
    /// True when nearest rounding reconstructed at least as well and was kept.
    public var keptNearest: Bool
    /// Weights whose rounding differs from nearest rounding's.
    public var flippedWeights: Int
}

/// AdaRound on one weight matrix (see `AdaRoundParameters` for the method).
///
/// Work per step: two GEMMs (`X·W̃ᵀ` and the gradient `∂L/∂W̃ = 2/rows·(X·W̃ᵀ − T)ᵀ·X`) through
/// `cblas_sgemm`, and one fused pass over the weights (gradient through h, regulariser, Adam,
/// new soft weights) in C. Output features are independent under the loss, so a step runs as
/// blocks of `blockRows` output rows, spread over the cores; the blocks depend on the shape
/// only, so results are bit-identical for any thread count.
public enum AdaRoundLayer {
    /// Output rows per parallel block.
    static let blockRows = 64

    /// Runs AdaRound on `weight` (`[outputs, inputs]`) for `encoding` (per-tensor, per-channel on
    /// axis 0, or per-block on axis 1), returning on-grid weights.
    /// - Returns: nil when the encoding's layout is not one of those.
    public static func optimize(weight: Tensor, encoding: Encoding, data: AdaRoundLayerData,
                                parameters: AdaRoundParameters, threads: Int = ProcessInfoCores.active) throws -> AdaRoundLayerResult? {
        guard let grid = AdaRoundGrid(weight: weight, encoding: encoding) else { return nil }
        precondition(data.inputFeatures == grid.inputs && data.outputFeatures == grid.outputs, "data does not fit the weight")
        AdaRoundMath.useSingleThreadedBLAS()
        var state = AdaRoundState(grid: grid, weight: weight.scalars)
        let outputs = grid.outputs, inputs = grid.inputs, rowWidth = data.rowWidth, layout = data.layout
        var generator = SeededGenerator(seed: parameters.seed)
        let sampleStarts = data.sampleRows.reduce(into: [0]) { $0.append($0.last! + $1) }
        let batch = min(max(1, parameters.batchSize), data.sampleRows.count)
        var order = Array(data.sampleRows.indices)
        var batchInputs = [Float](), batchTargets = [Float]()
        var residual = [Float](), weightGradient = [Float](repeating: 0, count: outputs * inputs)
        for iteration in 0..<max(0, parameters.iterations) {
            // Draw `batch` samples without replacement (a partial Fisher–Yates shuffle).
            for index in 0..<batch {
                let pick = index + Int(generator.next() % UInt64(order.count - index))
                order.swapAt(index, pick)
            }
            batchInputs.removeAll(keepingCapacity: true)
            batchTargets.removeAll(keepingCapacity: true)
            for sample in order[0..<batch].sorted() {
                let start = sampleStarts[sample], end = sampleStarts[sample + 1]
                batchInputs.append(contentsOf: data.inputs[start * rowWidth..<end * rowWidth])
                batchTargets.append(contentsOf: data.targets[start * outputs..<end * outputs])
            }
            let rows = batchInputs.count / rowWidth
            guard rows > 0 else { continue }
            if residual.count < rows * outputs { residual = [Float](repeating: 0, count: rows * outputs) }
            var constants = parameters.kernelParameters(atIteration: iteration)
            batchInputs.withUnsafeBufferPointer { x in
                batchTargets.withUnsafeBufferPointer { t in
                    residual.withUnsafeMutableBufferPointer { r in
                        weightGradient.withUnsafeMutableBufferPointer { g in
                            state.withBuffers { buffers in
                                let x = UncheckedSendable(x.baseAddress!), t = UncheckedSendable(t.baseAddress!)
                                let r = UncheckedSendable(r.baseAddress!), g = UncheckedSendable(g.baseAddress!)
                                withUnsafePointer(to: &constants) { constantsPointer in
                                    let c = UncheckedSendable(constantsPointer)
                                    Parallel.forEachChunk(count: outputs, chunkSize: blockRows, threads: threads) { block in
                                        let first = block.lowerBound, count = block.count
                                        if layout == .depthwise {
                                            AdaRoundMath.depthwiseStep(x.value, rows: rows, taps: inputs, channels: outputs, block: block,
                                                                       soft: buffers.soft.value, targets: t.value, residual: r.value,
                                                                       gradient: g.value)
                                        } else {
                                            // Y[:, block] = X·W̃[block]ᵀ, then R = Y − T on those columns.
                                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(count), Int32(inputs), 1,
                                                        x.value, Int32(inputs), buffers.soft.value + first * inputs, Int32(inputs), 0,
                                                        r.value + first, Int32(outputs))
                                            for row in 0..<rows {
                                                let residualRow = r.value + row * outputs + first, targetRow = t.value + row * outputs + first
                                                for column in 0..<count { residualRow[column] -= targetRow[column] }
                                            }
                                            // ∂L/∂W̃[block] = 2/rows · R[:, block]ᵀ·X.
                                            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(count), Int32(inputs), Int32(rows),
                                                        2 / Float(rows), r.value + first, Int32(outputs), x.value, Int32(inputs), 0,
                                                        g.value + first * inputs, Int32(inputs))
                                        }
                                        for segment in grid.segments(rows: block) {
                                            let offset = segment.start
                                            aimet_adaround_step(segment.length, g.value + offset, buffers.floor.value + offset,
                                                                segment.scale, segment.low, segment.high, buffers.alpha.value + offset,
                                                                buffers.first.value + offset, buffers.second.value + offset, c.value,
                                                                buffers.soft.value + offset)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let adaRounded = state.hardRounded()
        let nearest = try Quantizer.fakeQuantize(weight, with: encoding).scalars
        let adaRoundLoss = AdaRoundMath.reconstructionLoss(weight: adaRounded, data: data, threads: threads)
        let nearestLoss = AdaRoundMath.reconstructionLoss(weight: nearest, data: data, threads: threads)
        let keepNearest = nearestLoss <= adaRoundLoss
        let flipped = zip(adaRounded, nearest).reduce(0) { $0 + ($1.0 != $1.1 ? 1 : 0) }
        return AdaRoundLayerResult(weight: Tensor(shape: weight.shape, scalars: keepNearest ? nearest : adaRounded),
                                   nearestLoss: nearestLoss, adaRoundLoss: adaRoundLoss, keptNearest: keepNearest,
                                   flippedWeights: keepNearest ? 0 : flipped)
    }
}

/// The grid of every weight of a `[outputs, inputs]` matrix, as runs (segments) of weights
/// within one row that share a scale and clamp bounds.
struct AdaRoundGrid: Sendable {
    struct Segment: Sendable {
        /// Index of the first weight.
        var start: Int
        var length: Int
        var scale: Float
        /// Integer offsets `q − zeroPoint` are clamped to [low, high].
        var low: Float
        var high: Float
    }

    let outputs: Int
    let inputs: Int
    /// Segments of each row, in order.
    let rowSegments: [[Segment]]

    init?(weight: Tensor, encoding: Encoding) {
        guard weight.rank == 2 else { return nil }
        outputs = weight.shape[0]
        inputs = weight.shape[1]
        let range = encoding.scheme.quantizedRange
        func segment(row: Int, start: Int, length: Int, group: Int) -> Segment {
            let zero = encoding.zeroPoints[group]
            return Segment(start: row * inputs + start, length: length, scale: encoding.scales[group],
                           low: Float(range.lowerBound - zero), high: Float(range.upperBound - zero))
        }
        let (outputs, inputs) = (outputs, inputs)
        switch encoding.scheme.granularity {
        case .perTensor:
            guard encoding.groupCount == 1 else { return nil }
            rowSegments = (0..<outputs).map { [segment(row: $0, start: 0, length: inputs, group: 0)] }
        case .perChannel(axis: 0):
            guard encoding.groupCount == outputs else { return nil }
            rowSegments = (0..<outputs).map { [segment(row: $0, start: 0, length: inputs, group: $0)] }
        case let .perBlock(axis: 1, size: size):
            guard size > 0, inputs % size == 0, encoding.groupCount == outputs * (inputs / size) else { return nil }
            let blocks = inputs / size
            rowSegments = (0..<outputs).map { row in
                (0..<blocks).map { segment(row: row, start: $0 * size, length: size, group: row * blocks + $0) }
            }
        default:
            return nil
        }
    }

    /// The segments of `rows`, in order.
    func segments(rows: Range<Int>) -> FlattenSequence<ArraySlice<[Segment]>> { rowSegments[rows].joined() }
}

/// The optimisation state of one layer: ⌊W/s⌋, V, Adam's moments, the current soft weights.
struct AdaRoundState {
    let grid: AdaRoundGrid
    var floor: [Float]
    var alpha: [Float]
    var first: [Float]
    var second: [Float]
    var soft: [Float]

    /// V initialised so that h(V) is each weight's fractional grid position (AIMET's start).
    init(grid: AdaRoundGrid, weight: [Float]) {
        self.grid = grid
        let count = weight.count
        floor = [Float](repeating: 0, count: count)
        alpha = [Float](repeating: 0, count: count)
        first = [Float](repeating: 0, count: count)
        second = [Float](repeating: 0, count: count)
        soft = [Float](repeating: 0, count: count)
        var constants = AdaRoundParameters(iterations: 1).kernelParameters(atIteration: 0)
        for segment in grid.rowSegments.joined() {
            for index in segment.start..<segment.start + segment.length {
                let scaled = weight[index] / segment.scale
                let whole = scaled.rounded(.down)
                floor[index] = whole
                alpha[index] = AdaRoundParameters.initialValue(forFraction: scaled - whole)
            }
        }
        // Pointers into the whole buffers: `&array[index]` may hand C a pointer to a temporary
        // copy of that one element, so reading a run of `length` values from it read whatever
        // followed on the stack (the cause of results that changed from run to run).
        floor.withUnsafeBufferPointer { floor in
            alpha.withUnsafeBufferPointer { alpha in
                soft.withUnsafeMutableBufferPointer { soft in
                    for segment in grid.rowSegments.joined() {
                        aimet_adaround_soft_weight(segment.length, floor.baseAddress! + segment.start, segment.scale, segment.low,
                                                   segment.high, alpha.baseAddress! + segment.start, &constants,
                                                   soft.baseAddress! + segment.start)
                    }
                }
            }
        }
    }

    struct Buffers {
        var floor: UncheckedSendable<UnsafeMutablePointer<Float>>
        var alpha: UncheckedSendable<UnsafeMutablePointer<Float>>
        var first: UncheckedSendable<UnsafeMutablePointer<Float>>
        var second: UncheckedSendable<UnsafeMutablePointer<Float>>
        var soft: UncheckedSendable<UnsafeMutablePointer<Float>>
    }

    mutating func withBuffers<Result>(_ body: (Buffers) -> Result) -> Result {
        floor.withUnsafeMutableBufferPointer { floor in
            alpha.withUnsafeMutableBufferPointer { alpha in
                first.withUnsafeMutableBufferPointer { first in
                    second.withUnsafeMutableBufferPointer { second in
                        soft.withUnsafeMutableBufferPointer { soft in
                            body(Buffers(floor: UncheckedSendable(floor.baseAddress!), alpha: UncheckedSendable(alpha.baseAddress!),
                                         first: UncheckedSendable(first.baseAddress!), second: UncheckedSendable(second.baseAddress!),
                                         soft: UncheckedSendable(soft.baseAddress!)))
                        }
                    }
                }
            }
        }
    }

    /// The hard-rounded weights: `s·clamp(⌊w/s⌋ + [V ≥ 0], low, high)`.
    func hardRounded() -> [Float] {
        var result = [Float](repeating: 0, count: alpha.count)
        for segment in grid.rowSegments.joined() {
            for index in segment.start..<segment.start + segment.length {
                let offset = floor[index] + (alpha[index] >= 0 ? 1 : 0)
                result[index] = min(max(offset, segment.low), segment.high) * segment.scale
            }
        }
        return result
    }
}

import CKernels

/// How a linear layer of a compressed model runs on the integer kernels.
public enum QuantizedLinear: Sendable {
    /// Float activations times int8/int4 weights dequantised in the kernel's inner loop
    /// (weight-only models, 4-bit weights, inputs without a per-tensor integer grid).
    case weightOnly(PackedWeightOnlyMatrix)
    /// int8 activations (quantized on entry with the producer's 8-bit encoding) times int8
    /// weights, int32 accumulation, requantised to float in the same pass (W8A8); the output
    /// is fake-quantized on `outputGrid` in that pass too when the layer's output carries a
    /// per-tensor activation quantizer.
    case integer(PackedInt8Matrix, activationScale: Float, zeroPoint: Int32, outputGrid: QuantizedOutputGrid? = nil)
    /// 16-bit activations (quantized on entry with the producer's per-tensor encoding, up to
    /// 16 bits, asymmetric or symmetric) times int8 weights, exact integer accumulation,
    /// requantised to float and fake-quantized on `outputGrid` in the same pass (W8A16).
    case integer16(PackedW8A16Matrix, input: SixteenBitInputGrid, outputGrid: QuantizedOutputGrid? = nil)

    /// Output features.
    public var columns: Int {
        switch self {
        case let .weightOnly(matrix): return matrix.columns
        case let .integer(matrix, _, _, _): return matrix.columns
        case let .integer16(matrix, _, _): return matrix.columns
        }
    }

    /// Input features.
    public var depth: Int {
        switch self {
        case let .weightOnly(matrix): return matrix.depth
        case let .integer(matrix, _, _, _): return matrix.depth
        case let .integer16(matrix, _, _): return matrix.depth
        }
    }

    /// A short description for reports (`w8a8`, `w8a16`, `w4 weight-only`).
    public var kernelName: String {
        switch self {
        case let .weightOnly(matrix): return "w\(matrix.bits) weight-only"
        case .integer: return "w8a8"
        case .integer16: return "w8a16"
        }
    }
}

/// A per-tensor activation grid applied to a layer's output inside the integer kernel:
/// `y = roundHalfToEven(clamp(y / scale, low, high))·scale` (NaN → 0), exactly
/// `Quantizer.fakeQuantize` with `low = qmin − zeroPoint` and `high = qmax − zeroPoint`.
public struct QuantizedOutputGrid: Sendable, Equatable {
    public let scale: Float
    public let low: Float
    public let high: Float

    /// `scale` > 0 and `low` ≤ `high` (integers), as an encoding's grid provides them.
    public init(scale: Float, low: Float, high: Float) {
        self.scale = scale
        self.low = low
        self.high = high
    }
}

/// A per-tensor input grid of at most 16 bits that the W8A16 kernel quantizes a layer's
/// input onto: `q = clamp(roundHalfToEven(x / scale) + zeroPoint, range)` (NaN → zeroPoint),
/// exactly `Quantizer.quantize` with the encoding it came from.
public struct SixteenBitInputGrid: Sendable, Equatable {
    public let scale: Float
    public let zeroPoint: Int32
    /// The integer grid `[qmin, qmax]`: unsigned (e.g. 0…65535) or signed (e.g. −32767…32767).
    public let range: ClosedRange<Int32>

    /// Throws when `scale` is not positive and finite, `zeroPoint` lies outside `range`, or
    /// `range` does not fit 16 bits (an unsigned grid within 0…65535 or a signed one within
    /// −32768…32767).
    public init(scale: Float, zeroPoint: Int32, range: ClosedRange<Int32>, name: String = "input") throws {
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.range = range
        var grid = cGrid
        guard aimet_input_grid16_is_valid(&grid) != 0 else {
            throw RuntimeError.shapeMismatch(node: name, reason: "16-bit input grid (scale \(scale), zero point \(zeroPoint), codes \(range)) is not a valid 16-bit grid")
        }
    }

    /// The C kernels' form.
    var cGrid: aimet_input_grid16 {
        aimet_input_grid16(scale: scale, zero_point: zeroPoint, qmin: range.lowerBound, qmax: range.upperBound)
    }
}

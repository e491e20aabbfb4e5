/// How a linear layer of a compressed model runs on the integer kernels.
public enum QuantizedLinear: Sendable {
    /// Float activations times int8/int4 weights dequantised in the kernel's inner loop
    /// (W8A16, W4A16, weight-only models).
    case weightOnly(PackedWeightOnlyMatrix)
    /// int8 activations (quantized on entry with the producer's 8-bit encoding) times int8
    /// weights, int32 accumulation, requantised to float in the same pass (W8A8); the output
    /// is fake-quantized on `outputGrid` in that pass too when the layer's output carries a
    /// per-tensor activation quantizer.
    case integer(PackedInt8Matrix, activationScale: Float, zeroPoint: Int32, outputGrid: QuantizedOutputGrid? = nil)

    /// Output features.
    public var columns: Int {
        switch self {
        case let .weightOnly(matrix): return matrix.columns
        case let .integer(matrix, _, _, _): return matrix.columns
        }
    }

    /// Input features.
    public var depth: Int {
        switch self {
        case let .weightOnly(matrix): return matrix.depth
        case let .integer(matrix, _, _, _): return matrix.depth
        }
    }

    /// A short description for reports (`w8a8`, `w4 weight-only`).
    public var kernelName: String {
        switch self {
        case let .weightOnly(matrix): return "w\(matrix.bits) weight-only"
        case .integer: return "w8a8"
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

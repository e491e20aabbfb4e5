/// Every error the quantization math of QuantCore reports. Each case carries enough context
/// (tensor name, offending value, allowed values) to be shown to a user unchanged.
public enum QuantizationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A bit width outside `2...16`.
    case invalidBitWidth(Int)
    /// A textual option (granularity, symmetry, bit width, estimator) that could not be parsed.
    case invalidOption(option: String, value: String, allowed: String)
    /// A NaN or infinity in a tensor that is being observed or encoded.
    case nonFiniteValue(tensor: String, index: Int, value: Float)
    /// An axis that does not exist in a tensor of the given rank.
    case invalidAxis(axis: Int, rank: Int)
    /// A block size that is not positive or does not divide the extent of its axis.
    case invalidBlockSize(size: Int, extent: Int)
    /// A tensor whose shape does not fit an encoding or an observer.
    case shapeMismatch(tensor: String, expected: [Int], actual: [Int])
    /// Two arrays that must have equal lengths do not.
    case lengthMismatch(what: String, expected: Int, actual: Int)
    /// Encoding parameters that violate the grid rules (scale ≤ 0, zero point out of range, ...).
    case invalidEncoding(String)
    /// Int4 packing needs an even last dimension.
    case oddPackingDimension(shape: [Int])
    /// A value that does not fit a 4-bit nibble of the requested signedness.
    case valueOutOfNibbleRange(index: Int, value: Int32, signed: Bool)
    /// A percentile outside `50...100`.
    case invalidPercentile(Double)
    /// An observer asked for an encoding before it saw any value, or with another granularity.
    case observerMismatch(tensor: String, reason: String)

    public var description: String {
        switch self {
        case .invalidBitWidth(let bits):
            return "invalid bit width \(bits): allowed are 2 through 16"
        case .invalidOption(let option, let value, let allowed):
            return "invalid \(option) '\(value)': allowed are \(allowed)"
        case .nonFiniteValue(let tensor, let index, let value):
            return "tensor '\(tensor)' holds a non-finite value (\(value)) at element \(index)"
        case .invalidAxis(let axis, let rank):
            return "axis \(axis) does not exist in a tensor of rank \(rank)"
        case .invalidBlockSize(let size, let extent):
            return "block size \(size) does not divide the axis extent \(extent)"
        case .shapeMismatch(let tensor, let expected, let actual):
            return "tensor '\(tensor)': expected shape \(expected), got \(actual)"
        case .lengthMismatch(let what, let expected, let actual):
            return "\(what): expected \(expected) values, got \(actual)"
        case .invalidEncoding(let reason):
            return "invalid encoding: \(reason)"
        case .oddPackingDimension(let shape):
            return "int4 packing needs an even last dimension, shape is \(shape)"
        case .valueOutOfNibbleRange(let index, let value, let signed):
            return "value \(value) at element \(index) does not fit a \(signed ? "signed" : "unsigned") 4-bit nibble"
        case .invalidPercentile(let percentile):
            return "percentile \(percentile) is outside 50...100"
        case .observerMismatch(let tensor, let reason):
            return "observer of '\(tensor)': \(reason)"
        }
    }
}

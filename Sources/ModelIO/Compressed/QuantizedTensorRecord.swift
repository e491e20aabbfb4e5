/// One quantized tensor as the compressed-model format stores it: integer values on the
/// grid x̂ = (q − zeroPoint)·scale, one scale (and zero point) per group.
///
/// Groups follow from `scaleShape`: `[]` one scale for the whole tensor, `[rows]` one per
/// output channel (axis 0), `[rows, columns / block]` one per block of `block` consecutive
/// columns of a 2-D tensor.
public struct QuantizedTensorRecord: Sendable, Equatable {
    /// The tensor's full source name (`encoder.layer.0.attention.self.query.weight`).
    public let name: String
    /// 4, 8 or 16.
    public let bits: Int
    /// Symmetric tensors use a signed grid and no zero points; asymmetric ones an unsigned
    /// grid with zero points.
    public let symmetric: Bool
    /// The original tensor shape.
    public let shape: [Int]
    /// Quantized values in row-major order (`shape` elements).
    public let values: [Int32]
    /// Scales, `scaleShape` elements.
    public let scales: [Float]
    public let scaleShape: [Int]
    /// Zero points (same shape as the scales) when asymmetric, nil when symmetric.
    public let zeroPoints: [Int32]?

    /// Creates a record, checking every count, range and scale.
    public init(name: String, bits: Int, symmetric: Bool, shape: [Int], values: [Int32],
                scales: [Float], scaleShape: [Int], zeroPoints: [Int32]?) throws {
        func invalid(_ reason: String) -> ModelIOError { .invalidTensor(tensor: name, reason: reason) }
        guard [4, 8, 16].contains(bits) else { throw invalid("\(bits)-bit tensors are not supported (4, 8, 16)") }
        let count = shape.reduce(1, *)
        guard values.count == count else { throw invalid("shape \(shape) needs \(count) values, got \(values.count)") }
        guard scales.count == scaleShape.reduce(1, *) else {
            throw invalid("scale shape \(scaleShape) needs \(scaleShape.reduce(1, *)) scales, got \(scales.count)")
        }
        guard scales.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw invalid("scales must be finite and positive") }
        switch scaleShape.count {
        case 0: break
        case 1:
            guard shape.first == scaleShape[0] else { throw invalid("per-channel scales \(scaleShape) do not match shape \(shape)") }
        case 2:
            guard shape.count == 2, shape[0] == scaleShape[0], scaleShape[1] > 0, shape[1] % scaleShape[1] == 0 else {
                throw invalid("per-block scales \(scaleShape) do not divide shape \(shape)")
            }
        default:
            throw invalid("scale shape \(scaleShape) is not [], [rows] or [rows, blocks]")
        }
        if symmetric {
            guard zeroPoints == nil else { throw invalid("a symmetric tensor has no zero points") }
        } else {
            guard let zeroPoints, zeroPoints.count == scales.count else { throw invalid("an asymmetric tensor needs one zero point per scale") }
        }
        let range = QuantizedTensorRecord.range(bits: bits, symmetric: symmetric)
        guard values.allSatisfy({ range.contains($0) }), (zeroPoints ?? []).allSatisfy({ range.contains($0) }) else {
            throw invalid("values or zero points outside the \(bits)-bit \(symmetric ? "signed" : "unsigned") grid \(range)")
        }
        self.name = name
        self.bits = bits
        self.symmetric = symmetric
        self.shape = shape
        self.values = values
        self.scales = scales
        self.scaleShape = scaleShape
        self.zeroPoints = zeroPoints
    }

    /// The grid: signed restricted [−(2^(b−1)−1), 2^(b−1)−1] when symmetric, [0, 2^b−1] otherwise.
    public static func range(bits: Int, symmetric: Bool) -> ClosedRange<Int32> {
        symmetric ? -(Int32(1) << (bits - 1) - 1)...(Int32(1) << (bits - 1) - 1) : 0...(Int32(1) << bits) - 1
    }

    /// Elements sharing one scale along the last axis (the block size), or nil unless per-block.
    public var blockSize: Int? { scaleShape.count == 2 ? shape[1] / scaleShape[1] : nil }

    /// The index of the scale that element `index` (row-major) uses.
    @inlinable
    public func groupIndex(ofElement index: Int) -> Int {
        switch scaleShape.count {
        case 0: return 0
        case 1: return index / (values.count / max(1, scaleShape[0]))
        default:
            let columns = shape[1]
            return (index / columns) * scaleShape[1] + (index % columns) / (columns / scaleShape[1])
        }
    }

    /// The dequantized values, x̂ = (q − zeroPoint)·scale.
    public func dequantized() -> [Float] {
        var result = [Float](repeating: 0, count: values.count)
        for index in values.indices {
            let group = groupIndex(ofElement: index)
            let zero = zeroPoints?[group] ?? 0
            result[index] = Float(values[index] - zero) * scales[group]
        }
        return result
    }
}

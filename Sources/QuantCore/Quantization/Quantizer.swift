/// Reference quantize, dequantize and fake-quantize on the grid of an `Encoding`.
///
/// Definition (computed in `Float`): `q = clamp(roundHalfToEven(x / scale) + zeroPoint, qmin, qmax)`
/// and `x̂ = Float(q − zeroPoint) · scale`. Rounding is half to even, as `numpy.round` and
/// `torch.round` do (2.5 → 2, 3.5 → 4, −2.5 → −2). The division is a true division, not a
/// multiplication by a reciprocal. NaN inputs map to the zero point (dequantize to 0); ±∞ clamp
/// to the ends of the grid. Encoding construction rejects non-finite ranges, so NaN handling here
/// only guarantees that these functions never trap.
public enum Quantizer {
    /// 1.5 · 2^23: adding and subtracting it rounds a Float with |v| < 2^22 to an integer, half
    /// to even, in the default rounding mode, without a library call.
    @usableFromInline static let roundingMagic: Float = 12_582_912

    /// Rounds `value` (|value| ≤ 2^22, not NaN) to the nearest integer, ties to even.
    @inlinable @inline(__always)
    static func roundHalfToEven(_ value: Float) -> Float {
        (value + roundingMagic) - roundingMagic
    }

    /// `round(clamp(x / scale, low, high))` where `low = qmin − zp` and `high = qmax − zp`: the
    /// integer offset `q − zeroPoint` of `x`.
    @inlinable @inline(__always)
    static func gridOffset(_ value: Float, scale: Float, low: Float, high: Float) -> Float {
        var scaled = value / scale
        scaled = scaled == scaled ? scaled : 0
        scaled = scaled < low ? low : scaled
        scaled = scaled > high ? high : scaled
        return roundHalfToEven(scaled)
    }

    /// Quantizes `tensor` to integers in `encoding.scheme.quantizedRange`.
    /// - Throws: `shapeMismatch` when the tensor does not fit the encoding's layout.
    public static func quantize(_ tensor: Tensor, with encoding: Encoding, tensorName: String = "tensor") throws -> [Int32] {
        let layout = try encoding.layout(for: tensor.shape, tensorName: tensorName)
        var result = [Int32](repeating: 0, count: tensor.count)
        let range = encoding.scheme.quantizedRange
        tensor.scalars.withUnsafeBufferPointer { input in
            result.withUnsafeMutableBufferPointer { output in
                layout.forEachSegment { start, length, groupBase, groupStride in
                    for index in 0..<length {
                        let group = groupBase + index * groupStride
                        let zero = encoding.zeroPoints[group]
                        let offset = gridOffset(input[start + index], scale: encoding.scales[group],
                                                low: Float(range.lowerBound - zero), high: Float(range.upperBound - zero))
                        output[start + index] = Int32(offset) + zero
                    }
                }
            }
        }
        return result
    }

    /// Maps integers back to floats: `x̂ = Float(q − zeroPoint) · scale`. Values outside the grid
    /// are used as they are (no clamping), so this is the exact inverse of the grid mapping.
    /// - Throws: `lengthMismatch` or `shapeMismatch` when `values` and `shape` do not fit the encoding.
    public static func dequantize(_ values: [Int32], shape: [Int], with encoding: Encoding, tensorName: String = "tensor") throws -> Tensor {
        let layout = try encoding.layout(for: shape, tensorName: tensorName)
        guard values.count == layout.elementCount else {
            throw QuantizationError.lengthMismatch(what: "quantized values of '\(tensorName)'", expected: layout.elementCount, actual: values.count)
        }
        var scalars = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { input in
            scalars.withUnsafeMutableBufferPointer { output in
                layout.forEachSegment { start, length, groupBase, groupStride in
                    for index in 0..<length {
                        let group = groupBase + index * groupStride
                        output[start + index] = Float(input[start + index] - encoding.zeroPoints[group]) * encoding.scales[group]
                    }
                }
            }
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// Quantizes and dequantizes in one pass: `dequantize(quantize(tensor))`, bit for bit.
    public static func fakeQuantize(_ tensor: Tensor, with encoding: Encoding, tensorName: String = "tensor") throws -> Tensor {
        var result = tensor
        try result.scalars.withUnsafeMutableBufferPointer { buffer in
            try fakeQuantize(buffer, shape: tensor.shape, with: encoding, tensorName: tensorName)
        }
        return result
    }

    /// Fake-quantizes `values` (a row-major tensor of `shape`) in place.
    public static func fakeQuantize(_ values: UnsafeMutableBufferPointer<Float>, shape: [Int], with encoding: Encoding,
                                    tensorName: String = "tensor") throws {
        let layout = try encoding.layout(for: shape, tensorName: tensorName)
        guard values.count == layout.elementCount else {
            throw QuantizationError.lengthMismatch(what: "values of '\(tensorName)'", expected: layout.elementCount, actual: values.count)
        }
        guard let base = values.baseAddress else { return }
        let range = encoding.scheme.quantizedRange
        encoding.scales.withUnsafeBufferPointer { scales in
            encoding.zeroPoints.withUnsafeBufferPointer { zeroPoints in
                layout.forEachSegment { start, length, groupBase, groupStride in
                    let segment = base + start
                    if groupStride == 0 {
                        let scale = scales[groupBase]
                        let zero = zeroPoints[groupBase]
                        fakeQuantizeRun(segment, count: length, scale: scale,
                                        low: Float(range.lowerBound - zero), high: Float(range.upperBound - zero))
                    } else {
                        for index in 0..<length {
                            let group = groupBase + index * groupStride
                            let zero = zeroPoints[group]
                            segment[index] = gridOffset(segment[index], scale: scales[group], low: Float(range.lowerBound - zero),
                                                        high: Float(range.upperBound - zero)) * scales[group]
                        }
                    }
                }
            }
        }
    }

    /// The vectorisable inner loop: one scale and zero point for `count` consecutive values.
    @inline(__always)
    static func fakeQuantizeRun(_ values: UnsafeMutablePointer<Float>, count: Int, scale: Float, low: Float, high: Float) {
        for index in 0..<count {
            values[index] = gridOffset(values[index], scale: scale, low: low, high: high) * scale
        }
    }
}

/// Packing of 4-bit values two to a byte, as the compressed-model format stores them.
///
/// Values are packed along the last axis: byte `j` of a row holds column `2j` in its low nibble
/// and column `2j + 1` in its high nibble. Signed values (symmetric schemes, −8...7) are stored
/// as two's-complement nibbles; unsigned values (asymmetric schemes, 0...15) as they are.
/// A packed tensor of shape `[..., n]` has shape `[..., n / 2]`.
public enum Int4Packing {
    /// The range of one nibble.
    public static func nibbleRange(signed: Bool) -> ClosedRange<Int32> { signed ? -8...7 : 0...15 }

    /// The shape of the packed bytes for values of `shape` (last dimension halved).
    public static func packedShape(for shape: [Int]) throws -> [Int] {
        guard let last = shape.last, last % 2 == 0 else { throw QuantizationError.oddPackingDimension(shape: shape) }
        var packed = shape
        packed[packed.count - 1] = last / 2
        return packed
    }

    /// Packs `values` (row-major, of `shape`) two to a byte.
    /// - Throws: `oddPackingDimension` when the last dimension is odd or the shape is a scalar,
    ///   `lengthMismatch` when `values` does not fill `shape`, `valueOutOfNibbleRange` for a value
    ///   that does not fit.
    public static func pack(_ values: [Int32], shape: [Int], signed: Bool) throws -> [UInt8] {
        _ = try packedShape(for: shape)
        guard values.count == Tensor.elementCount(of: shape) else {
            throw QuantizationError.lengthMismatch(what: "int4 values", expected: Tensor.elementCount(of: shape), actual: values.count)
        }
        let range = nibbleRange(signed: signed)
        var bytes = [UInt8](repeating: 0, count: values.count / 2)
        try values.withUnsafeBufferPointer { input in
            try bytes.withUnsafeMutableBufferPointer { output in
                for pair in 0..<output.count {
                    let low = input[2 * pair]
                    let high = input[2 * pair + 1]
                    guard range.contains(low) else { throw QuantizationError.valueOutOfNibbleRange(index: 2 * pair, value: low, signed: signed) }
                    guard range.contains(high) else { throw QuantizationError.valueOutOfNibbleRange(index: 2 * pair + 1, value: high, signed: signed) }
                    output[pair] = UInt8(truncatingIfNeeded: low & 0xF) | UInt8(truncatingIfNeeded: (high & 0xF) << 4)
                }
            }
        }
        return bytes
    }

    /// Unpacks bytes made by `pack` for values of `shape` (the unpacked shape).
    /// - Throws: `oddPackingDimension`, or `lengthMismatch` when `bytes` does not fit `shape`.
    public static func unpack(_ bytes: [UInt8], shape: [Int], signed: Bool) throws -> [Int32] {
        _ = try packedShape(for: shape)
        let count = Tensor.elementCount(of: shape)
        guard bytes.count * 2 == count else {
            throw QuantizationError.lengthMismatch(what: "packed int4 bytes", expected: count / 2, actual: bytes.count)
        }
        var values = [Int32](repeating: 0, count: count)
        bytes.withUnsafeBufferPointer { input in
            values.withUnsafeMutableBufferPointer { output in
                for pair in 0..<input.count {
                    let byte = input[pair]
                    output[2 * pair] = nibble(byte & 0xF, signed: signed)
                    output[2 * pair + 1] = nibble(byte >> 4, signed: signed)
                }
            }
        }
        return values
    }

    @inline(__always)
    static func nibble(_ bits: UInt8, signed: Bool) -> Int32 {
        // Sign-extend by moving the nibble to the top of an Int8 and shifting back arithmetically.
        signed ? Int32(Int8(bitPattern: bits << 4) >> 4) : Int32(bits)
    }
}

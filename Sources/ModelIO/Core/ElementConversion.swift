import QuantCore

/// Converts little-endian element bytes of any `DType` to `Float`.
public enum ElementConversion {
    /// Decodes `buffer` (little-endian elements of `dtype`) into `Float`s.
    /// Throws when the byte count is not a multiple of the element size.
    public static func floats(
        from buffer: UnsafeRawBufferPointer, dtype: DType, tensor: String, path: String
    ) throws -> [Float] {
        let size = dtype.byteSize
        guard buffer.count % size == 0 else {
            throw ModelIOError.byteCountMismatch(
                path: path, tensor: tensor,
                expected: (buffer.count / size + 1) * size, actual: buffer.count)
        }
        let count = buffer.count / size
        return [Float](unsafeUninitializedCapacity: count) { output, initialized in
            switch dtype {
            case .float32:
                for index in 0..<count {
                    output[index] = Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
                }
            case .float64:
                for index in 0..<count {
                    output[index] = Float(Double(bitPattern: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))))
                }
            case .float16:
                for index in 0..<count {
                    output[index] = HalfPrecision.float(fromHalfBits: UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)))
                }
            case .bfloat16:
                for index in 0..<count {
                    output[index] = HalfPrecision.float(fromBFloat16Bits: UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)))
                }
            case .int64:
                for index in 0..<count {
                    output[index] = Float(Int64(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 8, as: Int64.self)))
                }
            case .int32:
                for index in 0..<count {
                    output[index] = Float(Int32(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 4, as: Int32.self)))
                }
            case .int16:
                for index in 0..<count {
                    output[index] = Float(Int16(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 2, as: Int16.self)))
                }
            case .int8:
                for index in 0..<count {
                    output[index] = Float(Int8(bitPattern: buffer[index]))
                }
            case .uint8:
                for index in 0..<count {
                    output[index] = Float(buffer[index])
                }
            case .bool:
                for index in 0..<count {
                    output[index] = buffer[index] == 0 ? 0 : 1
                }
            }
            initialized = count
        }
    }
}

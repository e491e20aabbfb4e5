import QuantCore

/// Name, element type and shape of one stored tensor.
public struct TensorInfo: Sendable, Equatable, Hashable {
    /// Full name, e.g. `encoder.layer.0.attention.self.query.weight`.
    public let name: String
    /// Element type as stored in the file.
    public let dtype: DType
    /// Extent of each axis, outermost first.
    public let shape: [Int]

    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    /// Number of elements (1 for a scalar).
    public var elementCount: Int { Tensor.elementCount(of: shape) }

    /// Bytes the tensor occupies in its stored dtype.
    public var byteCount: Int { elementCount * dtype.byteSize }
}

/// A tensor's bytes in its stored dtype: contiguous, row-major, little-endian.
public struct RawTensor: Sendable, Equatable {
    public let info: TensorInfo
    public let bytes: [UInt8]

    /// Creates a raw tensor, checking that the byte count matches shape × dtype.
    public init(info: TensorInfo, bytes: [UInt8]) throws {
        guard bytes.count == info.byteCount else {
            throw ModelIOError.invalidTensor(
                tensor: info.name,
                reason: "shape \(info.shape) of \(info.dtype.rawValue) needs \(info.byteCount) bytes, got \(bytes.count)")
        }
        self.info = info
        self.bytes = bytes
    }

    /// Packs `Float` values as a float32 raw tensor.
    public init(name: String, tensor: Tensor) {
        self.info = TensorInfo(name: name, dtype: .float32, shape: tensor.shape)
        self.bytes = tensor.scalars.withUnsafeBytes { Array($0) }
    }
}

import QuantCore

/// The file formats the model I/O layer reads.
public enum WeightFormat: String, Sendable, Codable, CaseIterable {
    case safetensors
    case shardedSafetensors = "safetensors-sharded"
    case kerasModelHDF5 = "keras-hdf5"
    case kerasWeightsHDF5 = "keras3-weights-hdf5"
    case plainHDF5 = "hdf5"
    case pytorchLegacy = "pytorch-legacy"
    case pytorchZip = "pytorch-zip"
}

/// Read access to the tensors of one checkpoint, whatever its format.
///
/// Opening a store reads only its header or index; tensor data is read on access.
/// Implementations are safe to read from several threads at once.
public protocol WeightStore: AnyObject, Sendable {
    /// The file (or index file) the store was opened from.
    var path: String { get }
    /// The format the file was recognised as.
    var format: WeightFormat { get }
    /// Every tensor, in file order.
    var tensors: [TensorInfo] { get }
    /// Format metadata (safetensors `__metadata__`, Keras model config summary, ...)
    /// as a JSON object.
    var metadata: JSONValue { get }
    /// Calls `body` with the tensor's bytes: contiguous, row-major, little-endian, in its
    /// stored dtype. The buffer is valid only inside `body`.
    func withRawBytes<Result>(
        named name: String, _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> Result
}

extension WeightStore {
    /// The description of the tensor called `name`, if the store has it.
    public func info(named name: String) -> TensorInfo? {
        tensors.first { $0.name == name }
    }

    /// The tensor called `name` converted to `Float`.
    public func floatTensor(named name: String) throws -> Tensor {
        guard let info = info(named: name) else {
            throw ModelIOError.tensorNotFound(path: path, tensor: name)
        }
        let scalars = try withRawBytes(named: name) { buffer in
            try ElementConversion.floats(from: buffer, dtype: info.dtype, tensor: name, path: path)
        }
        guard scalars.count == Tensor.elementCount(of: info.shape) else {
            throw ModelIOError.invalidTensor(tensor: name, reason: "shape \(info.shape) needs \(Tensor.elementCount(of: info.shape)) values, the data holds \(scalars.count)")
        }
        return Tensor(shape: info.shape, scalars: scalars)
    }

    /// The tensor called `name` with its bytes copied out in its stored dtype.
    public func rawTensor(named name: String) throws -> RawTensor {
        guard let info = info(named: name) else {
            throw ModelIOError.tensorNotFound(path: path, tensor: name)
        }
        let bytes = try withRawBytes(named: name) { Array($0) }
        return try RawTensor(info: info, bytes: bytes)
    }

    /// Total number of elements over all tensors.
    public var totalParameters: Int { tensors.reduce(0) { $0 + $1.elementCount } }

    /// Total bytes of tensor data over all tensors.
    public var totalBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }
}

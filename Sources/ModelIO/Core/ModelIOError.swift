/// Every failure the model I/O layer reports. Each case names the file (and tensor or
/// object where one is involved) so a user can find the problem without a debugger.
public enum ModelIOError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The path does not exist.
    case fileNotFound(path: String)
    /// The file exists but could not be opened or mapped.
    case cannotOpen(path: String, reason: String)
    /// The file ends before the data its header promises.
    case truncated(path: String, reason: String)
    /// A header or container structure is malformed.
    case invalidHeader(path: String, reason: String)
    /// Text that should be JSON is not (or exceeds the parser's safety limits).
    case invalidJSON(path: String, offset: Int, reason: String)
    /// A dtype string the format does not define.
    case unknownDType(path: String, tensor: String, dtype: String)
    /// A tensor's data lies outside the file's data section.
    case tensorOutOfBounds(path: String, tensor: String, reason: String)
    /// Two tensors claim the same bytes.
    case overlappingTensors(path: String, first: String, second: String)
    /// shape × dtype size differs from the bytes the header assigns to the tensor.
    case byteCountMismatch(path: String, tensor: String, expected: Int, actual: Int)
    /// No tensor of that name in the store.
    case tensorNotFound(path: String, tensor: String)
    /// A sharded index names a shard file that does not exist.
    case missingShard(index: String, shard: String)
    /// A pickle asks for a global (class or function) outside the allow-list.
    case forbiddenPickleGlobal(path: String, module: String, name: String)
    /// A pickle stream is malformed or uses an opcode the safe reader does not accept.
    case invalidPickle(path: String, offset: Int, reason: String)
    /// The file is not an HDF5 file.
    case notHDF5(path: String)
    /// An HDF5 library call failed on an object inside the file.
    case hdf5Failure(path: String, object: String, operation: String)
    /// The file's format is not one the reader understands.
    case unsupportedFormat(path: String, reason: String)
    /// Writing a file failed; nothing was left at the destination.
    case writeFailed(path: String, reason: String)
    /// A tensor handed to a writer is inconsistent (name, shape, byte count).
    case invalidTensor(tensor: String, reason: String)
    /// The file is empty or is neither PNG nor JPEG (judged by its content, not its name).
    case notAnImage(path: String, reason: String)
    /// libpng or libjpeg rejected the image data (`format` is "PNG" or "JPEG").
    case corruptImage(path: String, format: String, reason: String)
    /// No file in an image folder could be decoded (`reason` lists what went wrong).
    case noDecodableImages(directory: String, reason: String)

    public var description: String {
        switch self {
        case let .fileNotFound(path):
            return "\(path): no such file"
        case let .cannotOpen(path, reason):
            return "\(path): cannot open: \(reason)"
        case let .truncated(path, reason):
            return "\(path): file is truncated: \(reason)"
        case let .invalidHeader(path, reason):
            return "\(path): invalid header: \(reason)"
        case let .invalidJSON(path, offset, reason):
            return "\(path): invalid JSON at byte \(offset): \(reason)"
        case let .unknownDType(path, tensor, dtype):
            return "\(path): tensor '\(tensor)' has unknown dtype '\(dtype)'"
        case let .tensorOutOfBounds(path, tensor, reason):
            return "\(path): tensor '\(tensor)' is out of bounds: \(reason)"
        case let .overlappingTensors(path, first, second):
            return "\(path): tensors '\(first)' and '\(second)' overlap"
        case let .byteCountMismatch(path, tensor, expected, actual):
            return "\(path): tensor '\(tensor)' needs \(expected) bytes for its shape and dtype but has \(actual)"
        case let .tensorNotFound(path, tensor):
            return "\(path): no tensor named '\(tensor)'"
        case let .missingShard(index, shard):
            return "\(index): shard '\(shard)' does not exist"
        case let .forbiddenPickleGlobal(path, module, name):
            return "\(path): pickle references forbidden global '\(module).\(name)' (only state-dict types are allowed)"
        case let .invalidPickle(path, offset, reason):
            return "\(path): invalid pickle at byte \(offset): \(reason)"
        case let .notHDF5(path):
            return "\(path): not an HDF5 file"
        case let .hdf5Failure(path, object, operation):
            return "\(path): HDF5 \(operation) failed on '\(object)'"
        case let .unsupportedFormat(path, reason):
            return "\(path): unsupported format: \(reason)"
        case let .writeFailed(path, reason):
            return "\(path): write failed: \(reason)"
        case let .invalidTensor(tensor, reason):
            return "tensor '\(tensor)': \(reason)"
        case let .notAnImage(path, reason):
            return "\(path): not a PNG or JPEG image: \(reason)"
        case let .corruptImage(path, format, reason):
            return "\(path): corrupt \(format) image: \(reason)"
        case let .noDecodableImages(directory, reason):
            return "\(directory): no image in the folder could be decoded: \(reason)"
        }
    }
}

import QuantCore

/// A safetensors file, memory-mapped.
///
/// Opening maps the file and parses only its JSON header; every entry is validated before
/// the initializer returns (known dtype, non-negative shape whose size does not overflow,
/// offsets inside the data section, byte count equal to shape × dtype size, no two tensors
/// sharing bytes, `__metadata__` of strings). Tensor bytes are then handed out straight
/// from the mapping, without copying. The store is immutable and safe to use from several
/// threads.
///
/// Unlike the reference implementation this reader accepts unused gaps between tensors and
/// bytes after the last one; they are simply never read.
public final class SafetensorsStore: WeightStore {
    /// The file the store was opened from.
    public let path: String
    /// Always `.safetensors`.
    public var format: WeightFormat { .safetensors }
    /// Every tensor in file order: sorted by data offset.
    public let tensors: [TensorInfo]
    /// The header's `__metadata__` object (string values only), or an empty object.
    public let metadata: JSONValue

    private let file: MappedFile
    private let dataStart: Int
    private let ranges: [Range<Int>]
    private let indexByName: [String: Int]

    /// Maps and validates the safetensors file at `path`.
    ///
    /// - Throws: `ModelIOError.fileNotFound` / `.cannotOpen` when the file cannot be mapped;
    ///   `.truncated` when it is shorter than its header claims; `.invalidHeader`,
    ///   `.invalidJSON`, `.unknownDType`, `.tensorOutOfBounds`, `.byteCountMismatch` or
    ///   `.overlappingTensors` when the header is malformed. Every error names the file
    ///   and, where one is involved, the tensor.
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        let header = try SafetensorsHeader(file: file.bytes, path: path)
        self.path = path
        self.file = file
        self.dataStart = header.dataStart
        self.tensors = header.entries.map(\.info)
        self.ranges = header.entries.map(\.range)
        self.metadata = .object(header.metadata)
        var indexByName: [String: Int] = [:]
        indexByName.reserveCapacity(header.entries.count)
        for (index, entry) in header.entries.enumerated() {
            indexByName[entry.info.name] = index
        }
        self.indexByName = indexByName
    }

    /// `__metadata__` as a dictionary of strings (empty when the file has none).
    public var userMetadata: [String: String] {
        guard case let .object(object) = metadata else { return [:] }
        var result: [String: String] = [:]
        for (key, value) in object.entries {
            if let text = value.stringValue { result[key] = text }
        }
        return result
    }

    /// Size of the file in bytes.
    public var fileSize: Int { file.size }

    /// The absolute byte range of tensor `name` in the file, or nil if there is no such tensor.
    public func dataOffset(of name: String) -> Range<Int>? {
        guard let index = indexByName[name] else { return nil }
        let range = ranges[index]
        return (dataStart + range.lowerBound)..<(dataStart + range.upperBound)
    }

    /// Calls `body` with the tensor's bytes taken directly from the memory mapping (no copy):
    /// contiguous, row-major, little-endian, in the stored dtype. The buffer is valid only
    /// inside `body`.
    ///
    /// - Throws: `ModelIOError.tensorNotFound` when the file has no tensor called `name`.
    public func withRawBytes<Result>(
        named name: String, _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> Result {
        guard let range = dataOffset(of: name) else {
            throw ModelIOError.tensorNotFound(path: path, tensor: name)
        }
        return try withExtendedLifetime(file) {
            try body(file.slice(range))
        }
    }
}

extension SafetensorsStore {
    /// Parses and validates a whole safetensors file held in memory and returns its tensors
    /// in file order, without keeping the bytes. The entry point of the header fuzzer; it
    /// throws a `ModelIOError` for any malformed input and never traps.
    public static func validate(fileBytes: UnsafeRawBufferPointer, path: String) throws -> [TensorInfo] {
        try SafetensorsHeader(file: fileBytes, path: path).entries.map(\.info)
    }
}

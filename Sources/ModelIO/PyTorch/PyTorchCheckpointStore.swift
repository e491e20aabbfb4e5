import QuantCore

/// Reads the tensors of a PyTorch checkpoint (`torch.save` output) without executing
/// any of its pickled code: the safe equivalent of `torch.load(weights_only=True)`.
///
/// Both layouts are understood: the zip archive of torch ≥ 1.6 (`<prefix>/data.pkl` plus
/// one STORED entry `<prefix>/data/<key>` per storage) and the legacy stream (magic
/// number, protocol version and system-info pickles, the object pickle, the storage-key
/// list, then each storage as an 8-byte element count and its raw bytes).
///
/// Tensors are listed in the pickled dict's key order. Nested dicts, lists and tuples
/// (`{"state_dict": {...}}`, `{"model": {...}, "epoch": 3}`) are flattened with
/// '.'-joined keys (`state_dict.conv.weight`); entries that are not tensors are skipped
/// and their names listed in `metadata["non_tensor_entries"]`. Storage bytes stay in the
/// memory map until a tensor is read; strided (non-contiguous) tensors are copied into
/// row-major order on access.
public final class PyTorchCheckpointStore: WeightStore {
    public let path: String
    public let format: WeightFormat
    public let tensors: [TensorInfo]
    public let metadata: JSONValue

    private let file: MappedFile
    private let layouts: [TensorLayout]
    private let positions: [String: Int]

    /// The legacy format's magic number 0x1950a86a20f9469cfc6c, little-endian.
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    /// Nesting deeper than this in the pickled object is refused.
    static let maximumNesting = 64

    /// Opens `path`, recognising the zip and legacy layouts by their first bytes.
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        let loaded: LoadedCheckpoint
        if bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B, bytes[2] == 0x03, bytes[3] == 0x04 {
            loaded = try PyTorchCheckpointStore.loadZip(file)
            format = .pytorchZip
        } else if bytes.count >= 2, bytes[0] == 0x80 {
            loaded = try PyTorchCheckpointStore.loadLegacy(file)
            format = .pytorchLegacy
        } else {
            throw ModelIOError.unsupportedFormat(
                path: path, reason: "not a PyTorch checkpoint: it starts with neither a zip header (PK\\x03\\x04) nor a pickle PROTO opcode (0x80)")
        }
        var flattener = Flattener(document: loaded.document, path: path)
        try flattener.visit(loaded.document.root, name: "", depth: 0)

        var layouts: [TensorLayout] = []
        var positions: [String: Int] = [:]
        for (name, tensor) in flattener.tensors {
            guard positions[name] == nil else {
                throw ModelIOError.invalidHeader(path: path, reason: "two tensors flatten to the same name '\(name)'")
            }
            guard let start = loaded.storageStarts[tensor.storage.key] else {
                throw ModelIOError.invalidHeader(path: path, reason: "tensor '\(name)' uses storage '\(tensor.storage.key)', which the file does not contain")
            }
            let layout = try TensorLayout(
                name: name, tensor: tensor,
                start: start + tensor.storage.viewOffset * tensor.storage.dtype.byteSize, path: path)
            positions[name] = layouts.count
            layouts.append(layout)
        }
        var metadata = loaded.metadata
        metadata["non_tensor_entries"] = .array(flattener.nonTensorEntries.map { .string($0) })
        metadata["storage_count"] = .integer(loaded.storageStarts.count)

        self.path = path
        self.file = file
        self.layouts = layouts
        self.positions = positions
        self.tensors = layouts.map(\.info)
        self.metadata = .object(metadata)
    }

    public func withRawBytes<Result>(
        named name: String, _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> Result {
        guard let position = positions[name] else {
            throw ModelIOError.tensorNotFound(path: path, tensor: name)
        }
        let layout = layouts[position]
        let size = layout.info.dtype.byteSize
        if layout.isContiguous {
            let start = layout.start + layout.storageOffset * size
            return try body(file.slice(start..<start + layout.info.byteCount))
        }
        let storage = file.slice(layout.start..<layout.start + layout.storageElements * size)
        let bytes = layout.materialise(from: storage)
        return try bytes.withUnsafeBytes { try body($0) }
    }

    /// Parses one pickle with the safe reader, for tools and fuzzers: arbitrary bytes in,
    /// a `PickleDocument` or a `ModelIOError` out (never a trap). `path` is only used in
    /// error messages. Same as `SafeUnpickler.parse(_:path:)`.
    public static func parsePickle(_ bytes: UnsafeRawBufferPointer, path: String) throws -> PickleDocument {
        try SafeUnpickler.parse(bytes, path: path)
    }
}

/// What a format loader hands to the store: the object pickle and where each storage's
/// bytes begin in the file.
struct LoadedCheckpoint {
    var document: PickleDocument
    /// Storage key → byte offset of its first element in the file (lengths already checked).
    var storageStarts: [String: Int]
    var metadata: JSONObject
}

/// Where one tensor's elements are, checked against its storage when the store opens.
struct TensorLayout {
    let info: TensorInfo
    /// File offset of element 0 of the tensor's storage (or storage view).
    let start: Int
    let storageElements: Int
    let storageOffset: Int
    let stride: [Int]
    let isContiguous: Bool

    init(name: String, tensor: PickleTensor, start: Int, path: String) throws {
        let dtype = tensor.storage.dtype
        func outOfBounds(_ reason: String) -> ModelIOError {
            .tensorOutOfBounds(path: path, tensor: name, reason: reason)
        }
        var count = 1
        var lastElement = tensor.storageOffset
        for (extent, step) in zip(tensor.shape, tensor.stride) {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw outOfBounds("shape \(tensor.shape) has too many elements") }
            count = product
            if extent > 0 {
                let (reach, reachOverflow) = (extent - 1).multipliedReportingOverflow(by: step)
                let (sum, sumOverflow) = lastElement.addingReportingOverflow(reach)
                guard !reachOverflow, !sumOverflow else { throw outOfBounds("stride \(tensor.stride) overflows") }
                lastElement = sum
            }
        }
        guard !count.multipliedReportingOverflow(by: dtype.byteSize).overflow else { throw outOfBounds("shape \(tensor.shape) has too many bytes") }
        if count > 0 {
            guard lastElement < tensor.storage.viewCount else {
                throw outOfBounds(
                    "offset \(tensor.storageOffset), shape \(tensor.shape) and stride \(tensor.stride) reach element \(lastElement) of storage '\(tensor.storage.key)', which has \(tensor.storage.viewCount)")
            }
        }
        info = TensorInfo(name: name, dtype: dtype, shape: tensor.shape)
        self.start = start
        storageElements = tensor.storage.viewCount
        storageOffset = tensor.storageOffset
        stride = tensor.stride
        var expected = 1
        var contiguous = true
        for (extent, step) in zip(tensor.shape, tensor.stride).reversed() where extent != 1 {
            if step != expected { contiguous = false }
            expected *= extent
        }
        isContiguous = contiguous || count == 0
    }

    /// Copies a strided tensor out of `storage` into contiguous row-major bytes.
    func materialise(from storage: UnsafeRawBufferPointer) -> [UInt8] {
        let size = info.dtype.byteSize
        let shape = info.shape
        let count = info.elementCount
        return [UInt8](unsafeUninitializedCapacity: count * size) { output, initialized in
            let destination = UnsafeMutableRawBufferPointer(output)
            let inner = shape.count - 1
            let innerExtent = shape[inner], innerStride = stride[inner]
            var index = [Int](repeating: 0, count: inner)
            var written = 0
            while written < count * size {
                var base = storageOffset
                for axis in 0..<inner { base += index[axis] * stride[axis] }
                for column in 0..<innerExtent {
                    let source = (base + column * innerStride) * size
                    destination.baseAddress!.advanced(by: written)
                        .copyMemory(from: storage.baseAddress!.advanced(by: source), byteCount: size)
                    written += size
                }
                var axis = inner - 1
                while axis >= 0 {
                    index[axis] += 1
                    if index[axis] < shape[axis] { break }
                    index[axis] = 0
                    axis -= 1
                }
            }
            initialized = count * size
        }
    }
}

/// Walks the pickled object and collects tensors under '.'-joined names.
struct Flattener {
    let document: PickleDocument
    let path: String
    var tensors: [(String, PickleTensor)] = []
    var nonTensorEntries: [String] = []
    private var visited: Set<PickleValue> = []

    init(document: PickleDocument, path: String) {
        self.document = document
        self.path = path
    }

    mutating func visit(_ value: PickleValue, name: String, depth: Int) throws {
        guard depth <= PyTorchCheckpointStore.maximumNesting else {
            throw ModelIOError.unsupportedFormat(path: path, reason: "'\(name)' is nested more than \(PyTorchCheckpointStore.maximumNesting) levels deep")
        }
        switch value {
        case .dict, .list, .tuple:
            // Each container is walked once, so shared references cannot blow up the walk.
            guard visited.insert(value).inserted else {
                nonTensorEntries.append(name)
                return
            }
            var children: [(String, PickleValue)] = []
            if let dictionary = document.dictionary(value) {
                children = zip(dictionary.keys, dictionary.values).map { (Flattener.keyName($0.0), $0.1) }
            } else if let items = document.sequence(value) {
                children = items.enumerated().map { (String($0.offset), $0.element) }
            }
            if children.isEmpty, !name.isEmpty { nonTensorEntries.append(name) }
            for (key, child) in children {
                try visit(child, name: name.isEmpty ? key : name + "." + key, depth: depth + 1)
            }
        case .tensor(let index):
            tensors.append((name.isEmpty ? "tensor" : name, document.tensors[index]))
        default:
            nonTensorEntries.append(name)
        }
    }

    static func keyName(_ key: PickleValue) -> String {
        switch key {
        case .string(let text): return text
        case .int(let number): return String(number)
        case .bool(let flag): return flag ? "True" : "False"
        default: return "<\(key.kindName)>"
        }
    }
}

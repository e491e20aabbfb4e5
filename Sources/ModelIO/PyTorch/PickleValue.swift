import QuantCore

/// One value produced by the safe pickle reader.
///
/// Containers (lists, tuples, dicts) and tensors are referenced by index into the
/// owning `PickleDocument`, so values stay small, shared references behave like
/// Python's (a dict filled after it was memoised is seen filled everywhere), and a
/// hostile pickle cannot build exponentially large values out of repeated references.
public enum PickleValue: Sendable, Hashable {
    case none
    case bool(Bool)
    /// An integer that fits in 64 bits.
    case int(Int64)
    /// An integer wider than 64 bits, as little-endian two's-complement bytes of minimal length.
    case bigInteger([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// Index into `PickleDocument.tuples`.
    case tuple(Int)
    /// Index into `PickleDocument.lists`.
    case list(Int)
    /// Index into `PickleDocument.dicts` (plain dicts and `collections.OrderedDict`).
    case dict(Int)
    /// A reference to an allow-listed global (class or function).
    case global(PickleGlobal)
    /// A storage named by a persistent id.
    case storage(PickleStorageReference)
    /// Index into `PickleDocument.tensors`.
    case tensor(Int)

    /// A short name of the value's kind, for error messages and metadata.
    public var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInteger: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let global): return "global \(global.qualifiedName)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// The only globals the reader lets a pickle name. Everything else is refused with
/// `ModelIOError.forbiddenPickleGlobal`.
public enum PickleGlobal: Sendable, Hashable {
    /// `collections.OrderedDict`
    case orderedDict
    /// `torch._utils._rebuild_tensor_v2`
    case rebuildTensorV2
    /// `torch._utils._rebuild_parameter`
    case rebuildParameter
    /// `torch._utils._rebuild_parameter_with_state`
    case rebuildParameterWithState
    /// `torch.<X>Storage` for the element types a state dict holds.
    case storageType(DType)

    /// Maps a `module`/`name` pair to an allowed global; nil when not allowed.
    public init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): self = .rebuildParameterWithState
        case ("torch", _):
            guard let dtype = PickleGlobal.storageTypes[name] else { return nil }
            self = .storageType(dtype)
        default: return nil
        }
    }

    /// `module.name` as Python spells it.
    public var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case .storageType(let dtype):
            let name = PickleGlobal.storageTypes.first { $0.value == dtype }?.key ?? dtype.rawValue
            return "torch.\(name)"
        }
    }

    static let storageTypes: [String: DType] = [
        "FloatStorage": .float32, "DoubleStorage": .float64, "HalfStorage": .float16,
        "BFloat16Storage": .bfloat16, "LongStorage": .int64, "IntStorage": .int32,
        "ShortStorage": .int16, "CharStorage": .int8, "ByteStorage": .uint8, "BoolStorage": .bool,
    ]
}

/// A storage named by a persistent id: `('storage', torch.FloatStorage, key, location,
/// element count[, view metadata])`.
public struct PickleStorageReference: Sendable, Hashable {
    /// The storage's key: the zip entry `data/<key>` or the legacy storage key. For a
    /// legacy storage view this is the key of the storage the view lies in.
    public let key: String
    /// Element type of the storage.
    public let dtype: DType
    /// Device the storage was saved from (`cpu`, `cuda:0`, ...).
    public let location: String
    /// Elements of the whole storage `key`.
    public let elementCount: Int
    /// First element of a legacy storage view inside `key` (0 otherwise).
    public let viewOffset: Int
    /// Elements the view covers (`elementCount` when it is not a view).
    public let viewCount: Int
}

/// A tensor rebuilt by `torch._utils._rebuild_tensor_v2`: a strided view of a storage.
public struct PickleTensor: Sendable, Hashable {
    public let storage: PickleStorageReference
    /// First element, counted in elements of the storage (view).
    public let storageOffset: Int
    public let shape: [Int]
    /// Distance in elements between neighbours along each axis.
    public let stride: [Int]
}

/// An ordered dictionary as a pickle builds it: a repeated key keeps its first position
/// and its last value, like Python's dict.
public struct PickleDictionary: Sendable, Hashable {
    public private(set) var keys: [PickleValue] = []
    public private(set) var values: [PickleValue] = []
    private var positions: [PickleValue: Int] = [:]

    public init() {}

    /// Sets `value` for `key`.
    public mutating func set(_ key: PickleValue, _ value: PickleValue) {
        if let position = positions[key] {
            values[position] = value
        } else {
            positions[key] = keys.count
            keys.append(key)
            values.append(value)
        }
    }

    /// The value for `key`, if present.
    public subscript(key: PickleValue) -> PickleValue? {
        positions[key].map { values[$0] }
    }

    /// The value for a string key, if present.
    public subscript(string key: String) -> PickleValue? {
        self[.string(key)]
    }

    public var count: Int { keys.count }
}

/// Everything one pickle produced: the root value and the containers it refers to.
public struct PickleDocument: Sendable {
    /// The object the pickle's STOP returned.
    public internal(set) var root: PickleValue = .none
    /// The protocol the PROTO opcode announced (0 when there was none).
    public internal(set) var protocolVersion = 0
    public internal(set) var tuples: [[PickleValue]] = []
    public internal(set) var lists: [[PickleValue]] = []
    public internal(set) var dicts: [PickleDictionary] = []
    public internal(set) var tensors: [PickleTensor] = []

    /// The elements of a tuple or list value; nil for other values.
    public func sequence(_ value: PickleValue) -> [PickleValue]? {
        switch value {
        case .tuple(let index): return tuples[index]
        case .list(let index): return lists[index]
        default: return nil
        }
    }

    /// The dictionary behind a dict value; nil for other values.
    public func dictionary(_ value: PickleValue) -> PickleDictionary? {
        if case .dict(let index) = value { return dicts[index] }
        return nil
    }

    /// The tensor behind a tensor value; nil for other values.
    public func tensor(_ value: PickleValue) -> PickleTensor? {
        if case .tensor(let index) = value { return tensors[index] }
        return nil
    }
}

/// Element types a weight file can store. The raw values are the safetensors dtype names.
public enum DType: String, CaseIterable, Sendable, Codable, Hashable {
    case float64 = "F64"
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case int64 = "I64"
    case int32 = "I32"
    case int16 = "I16"
    case int8 = "I8"
    case uint8 = "U8"
    case bool = "BOOL"

    /// Bytes one element occupies.
    public var byteSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// True for the floating-point types.
    public var isFloatingPoint: Bool {
        switch self {
        case .float64, .float32, .float16, .bfloat16: return true
        default: return false
        }
    }

    /// The safetensors name of the type (`F32`, `BF16`, ...).
    public var safetensorsName: String { rawValue }

    /// Parses a safetensors dtype name; nil when unknown.
    public init?(safetensorsName: String) {
        self.init(rawValue: safetensorsName)
    }
}

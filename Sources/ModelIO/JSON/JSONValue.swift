/// A JSON document. Numbers keep their literal text so integers of any size stay exact
/// until a caller asks for a concrete type; objects keep their keys in document order.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number as written in the source (validated JSON number syntax).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// A number from an integer.
    public static func integer<Value: BinaryInteger>(_ value: Value) -> JSONValue {
        .number(String(value))
    }

    /// A number from a `Double`; non-finite values become `null` (JSON has no NaN).
    public static func double(_ value: Double) -> JSONValue {
        guard value.isFinite else { return .null }
        if value == value.rounded(), abs(value) < 1e15 { return .number(String(Int64(value))) }
        return .number(String(value))
    }

    /// The value as an `Int` when it is an integer literal that fits.
    public var intValue: Int? {
        guard case let .number(text) = self else { return nil }
        return Int(text)
    }

    /// The value as a `Double` when it is a number.
    public var doubleValue: Double? {
        guard case let .number(text) = self else { return nil }
        return Double(text)
    }

    /// The value when it is a string.
    public var stringValue: String? {
        guard case let .string(text) = self else { return nil }
        return text
    }

    /// The value when it is a boolean.
    public var boolValue: Bool? {
        guard case let .bool(flag) = self else { return nil }
        return flag
    }

    /// The elements when it is an array.
    public var arrayValue: [JSONValue]? {
        guard case let .array(elements) = self else { return nil }
        return elements
    }

    /// The object when it is one.
    public var objectValue: JSONObject? {
        guard case let .object(object) = self else { return nil }
        return object
    }

    /// Member `key` of an object (nil for other values or missing keys).
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }
}

/// A JSON object that remembers the order its keys were written in.
public struct JSONObject: Sendable, Equatable {
    /// Keys in document (or insertion) order.
    public private(set) var keys: [String] = []
    private var storage: [String: JSONValue] = [:]

    public init() {}

    /// Builds an object from pairs, in order. A repeated key keeps its last value.
    public init(_ pairs: [(String, JSONValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    /// Member `key`; assigning appends new keys at the end, assigning nil removes.
    public subscript(key: String) -> JSONValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Number of members.
    public var count: Int { keys.count }

    /// Members in order.
    public var entries: [(key: String, value: JSONValue)] {
        keys.map { ($0, storage[$0]!) }
    }
}

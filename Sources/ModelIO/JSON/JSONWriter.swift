/// Serialises `JSONValue`s. Output is deterministic: with `sortedKeys` object members are
/// written in byte order of their keys, otherwise in the object's own order.
public struct JSONWriter: Sendable {
    /// Write object members sorted by key.
    public var sortedKeys: Bool
    /// Indent nested values by this many spaces; nil writes everything on one line.
    public var indent: Int?

    public init(sortedKeys: Bool = true, indent: Int? = nil) {
        self.sortedKeys = sortedKeys
        self.indent = indent
    }

    /// The JSON text of `value`.
    public func string(_ value: JSONValue) -> String {
        var output = ""
        write(value, level: 0, into: &output)
        return output
    }

    private func write(_ value: JSONValue, level: Int, into output: inout String) {
        switch value {
        case .null: output += "null"
        case let .bool(flag): output += flag ? "true" : "false"
        case let .number(text): output += text
        case let .string(text): JSONWriter.writeString(text, into: &output)
        case let .array(elements):
            if elements.isEmpty {
                output += "[]"
                return
            }
            output += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { output += "," }
                newline(level: level + 1, into: &output)
                write(element, level: level + 1, into: &output)
            }
            newline(level: level, into: &output)
            output += "]"
        case let .object(object):
            if object.count == 0 {
                output += "{}"
                return
            }
            output += "{"
            let keys = sortedKeys ? object.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } : object.keys
            for (index, key) in keys.enumerated() {
                if index > 0 { output += "," }
                newline(level: level + 1, into: &output)
                JSONWriter.writeString(key, into: &output)
                output += indent == nil ? ":" : ": "
                write(object[key]!, level: level + 1, into: &output)
            }
            newline(level: level, into: &output)
            output += "}"
        }
    }

    private func newline(level: Int, into output: inout String) {
        guard let indent else { return }
        output += "\n"
        output += String(repeating: " ", count: indent * level)
    }

    /// Appends `text` as a JSON string literal, escaping quotes, backslashes and controls.
    public static func writeString(_ text: String, into output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output += "\""
    }
}

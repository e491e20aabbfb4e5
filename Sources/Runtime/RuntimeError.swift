/// Failures while running a graph or preparing its inputs.
public enum RuntimeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A graph input was not supplied.
    case missingInput(name: String)
    /// A value has a shape the node cannot take.
    case shapeMismatch(node: String, reason: String)
    /// An index input (token id, position) is outside its embedding table.
    case indexOutOfRange(node: String, index: Int, rows: Int)
    /// A node lacks a parameter its op needs.
    case missingParameter(node: String, parameter: String)

    public var description: String {
        switch self {
        case let .missingInput(name):
            return "graph input '\(name)' was not supplied"
        case let .shapeMismatch(node, reason):
            return "node '\(node)': \(reason)"
        case let .indexOutOfRange(node, index, rows):
            return "node '\(node)': index \(index) is outside the table of \(rows) rows"
        case let .missingParameter(node, parameter):
            return "node '\(node)' has no parameter '\(parameter)'"
        }
    }
}

/// Every failure the runtime layer reports. Each case names the file, node or input
/// involved so a user can find the problem without a debugger.
public enum RuntimeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file the runtime needs does not exist.
    case missingFile(path: String)
    /// The file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// A tokenizer description (`tokenizer.json`, `vocab.txt`, `tokenizer_config.json`)
    /// is malformed or asks for something this tokenizer does not implement.
    case invalidTokenizer(path: String, reason: String)
    /// A token the tokenizer configuration names (unknown, padding, special tokens) is
    /// not in the vocabulary.
    case unknownToken(path: String, token: String)
    /// A model configuration file (`config.json`, `sentence_bert_config.json`) is
    /// malformed or lacks a required setting.
    case invalidConfiguration(path: String, reason: String)
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
        case let .missingFile(path):
            return "\(path): no such file"
        case let .unreadableFile(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .invalidTokenizer(path, reason):
            return "\(path): invalid tokenizer: \(reason)"
        case let .unknownToken(path, token):
            return "\(path): token '\(token)' is not in the vocabulary"
        case let .invalidConfiguration(path, reason):
            return "\(path): invalid configuration: \(reason)"
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

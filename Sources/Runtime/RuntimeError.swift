/// Every failure the runtime layer reports. Each case names the file involved (and the
/// token or setting where one is) so a user can find the problem without a debugger.
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
        }
    }
}

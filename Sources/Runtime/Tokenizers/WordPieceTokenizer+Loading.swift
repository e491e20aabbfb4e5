import Foundation
import ModelIO

extension WordPieceTokenizer {
    /// Loads `tokenizer.json` from `folder`, or `vocab.txt` (+ `tokenizer_config.json`
    /// when present) when there is no `tokenizer.json`.
    public init(modelFolder folder: String) throws {
        let tokenizerFile = (folder as NSString).appendingPathComponent("tokenizer.json")
        let vocabularyFile = (folder as NSString).appendingPathComponent("vocab.txt")
        if FileManager.default.fileExists(atPath: tokenizerFile) {
            try self.init(tokenizerFile: tokenizerFile)
        } else if FileManager.default.fileExists(atPath: vocabularyFile) {
            let configurationFile = (folder as NSString).appendingPathComponent("tokenizer_config.json")
            try self.init(
                vocabularyFile: vocabularyFile,
                configurationFile: FileManager.default.fileExists(atPath: configurationFile) ? configurationFile : nil)
        } else {
            throw RuntimeError.missingFile(path: tokenizerFile)
        }
    }

    /// Loads a Hugging Face `tokenizer.json` whose model is WordPiece, normaliser
    /// `BertNormalizer` (or none), pre-tokenizer `BertPreTokenizer` and post-processor
    /// `TemplateProcessing`, `BertProcessing` or none.
    public init(tokenizerFile path: String) throws {
        let root = try Self.parseJSON(path)
        func fail(_ reason: String) -> RuntimeError { .invalidTokenizer(path: path, reason: reason) }
        guard let model = root["model"]?.objectValue else { throw fail("no 'model' object") }
        guard model["type"]?.stringValue ?? "WordPiece" == "WordPiece" else {
            throw fail("model type '\(model["type"]?.stringValue ?? "")' is not WordPiece")
        }
        guard let vocabularyObject = model["vocab"]?.objectValue else { throw fail("model has no 'vocab' object") }
        var vocabulary: [(token: String, id: Int)] = []
        vocabulary.reserveCapacity(vocabularyObject.count)
        for (token, value) in vocabularyObject.entries {
            guard let id = value.intValue else { throw fail("vocabulary id of '\(token)' is not an integer") }
            vocabulary.append((token, id))
        }
        let unknownToken = try Self.string(model["unk_token"], default: "[UNK]", name: "unk_token", path: path)
        let prefix = try Self.string(
            model["continuing_subword_prefix"], default: "##", name: "continuing_subword_prefix", path: path)
        let maximumCharacters: Int
        switch model["max_input_chars_per_word"] {
        case nil, .null?: maximumCharacters = 100
        case let value?:
            guard let number = value.intValue else { throw fail("max_input_chars_per_word is not an integer") }
            maximumCharacters = number
        }

        let normalizer = try Self.normalizer(root["normalizer"], path: path)
        switch root["pre_tokenizer"] {
        case let value? where value["type"]?.stringValue == "BertPreTokenizer": break
        case let value?:
            throw fail("pre-tokenizer '\(value["type"]?.stringValue ?? "null")' is not supported (only BertPreTokenizer)")
        case nil: throw fail("no 'pre_tokenizer'")
        }
        let addedTokens = try Self.addedTokens(root["added_tokens"], path: path)
        let template = try Self.template(root["post_processor"], path: path)
        var paddingToken = "[PAD]"
        if let padding = root["padding"]?.objectValue, let token = padding["pad_token"]?.stringValue {
            paddingToken = token
        }
        try self.init(
            vocabulary: vocabulary, unknownToken: unknownToken, continuingPrefix: prefix,
            maximumCharactersPerWord: maximumCharacters, normalizer: normalizer, addedTokens: addedTokens,
            prefixTokens: template.prefix, suffixTokens: template.suffix, paddingToken: paddingToken, path: path)
    }

    /// Loads a BERT `vocab.txt` (one token a line, the line number is the id) with the
    /// settings of `tokenizer_config.json` (`do_lower_case`, `strip_accents`,
    /// `tokenize_chinese_chars`, the special tokens), as `BertTokenizerFast` does.
    public init(vocabularyFile path: String, configurationFile: String? = nil) throws {
        let bytes = try Self.readFile(path)
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw RuntimeError.invalidTokenizer(path: path, reason: "vocabulary is not UTF-8")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard !lines.isEmpty else { throw RuntimeError.invalidTokenizer(path: path, reason: "vocabulary is empty") }
        let vocabulary = lines.enumerated().map { (token: String($0.element), id: $0.offset) }

        var configuration = JSONObject()
        if let configurationFile {
            guard let object = try Self.parseJSON(configurationFile).objectValue else {
                throw RuntimeError.invalidTokenizer(path: configurationFile, reason: "not a JSON object")
            }
            configuration = object
        }
        let configurationPath = configurationFile ?? path
        func flag(_ key: String, default value: Bool) throws -> Bool? {
            switch configuration[key] {
            case nil: return value
            case .null?: return nil
            case let .bool(flag)?: return flag
            default:
                throw RuntimeError.invalidTokenizer(path: configurationPath, reason: "'\(key)' is not a boolean")
            }
        }
        func special(_ key: String, default value: String) throws -> String {
            // Either a string or an AddedToken object {"content": ...}.
            if let content = configuration[key]?["content"] {
                return try Self.string(content, default: value, name: key, path: configurationPath)
            }
            return try Self.string(configuration[key], default: value, name: key, path: configurationPath)
        }
        let lowercase = try flag("do_lower_case", default: true) ?? true
        let normalizer = BertNormalizer(
            cleanText: true, handleChineseCharacters: try flag("tokenize_chinese_chars", default: true) ?? true,
            stripAccents: try flag("strip_accents", default: lowercase), lowercase: lowercase)
        let specials = [
            try special("pad_token", default: "[PAD]"), try special("unk_token", default: "[UNK]"),
            try special("cls_token", default: "[CLS]"), try special("sep_token", default: "[SEP]"),
            try special("mask_token", default: "[MASK]"),
        ]
        var idsByToken: [String: Int] = [:]
        for (token, id) in vocabulary { idsByToken[token] = id }
        let addedTokens = specials.compactMap { token in
            idsByToken[token].map { AddedToken(content: token, id: $0, normalized: false) }
        }
        try self.init(
            vocabulary: vocabulary, unknownToken: specials[1], continuingPrefix: "##", maximumCharactersPerWord: 100,
            normalizer: normalizer, addedTokens: addedTokens, prefixTokens: [specials[2]], suffixTokens: [specials[3]],
            paddingToken: specials[0], path: path)
    }

    /// The longest input the model accepts, in tokens: `max_seq_length` of
    /// `sentence_bert_config.json` when that file exists, otherwise
    /// `max_position_embeddings` of `config.json`.
    public static func maximumSequenceLength(modelFolder folder: String) throws -> Int {
        let sentenceConfiguration = (folder as NSString).appendingPathComponent("sentence_bert_config.json")
        if FileManager.default.fileExists(atPath: sentenceConfiguration) {
            return try positiveInteger("max_seq_length", in: sentenceConfiguration)
        }
        return try positiveInteger(
            "max_position_embeddings", in: (folder as NSString).appendingPathComponent("config.json"))
    }

    private static func positiveInteger(_ key: String, in path: String) throws -> Int {
        let value: JSONValue
        do {
            value = try JSONParser.parse(try readFile(path), path: path)
        } catch let error as ModelIOError {
            throw RuntimeError.invalidConfiguration(path: path, reason: error.description)
        }
        guard let number = value[key]?.intValue, number > 0 else {
            throw RuntimeError.invalidConfiguration(path: path, reason: "'\(key)' is missing or not a positive integer")
        }
        return number
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw RuntimeError.missingFile(path: path)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RuntimeError.unreadableFile(path: path, reason: "read failed")
        }
        return [UInt8](data)
    }

    private static func parseJSON(_ path: String) throws -> JSONValue {
        let bytes = try readFile(path)
        do {
            return try JSONParser.parse(bytes, path: path)
        } catch let error as ModelIOError {
            throw RuntimeError.invalidTokenizer(path: path, reason: error.description)
        }
    }

    private static func string(_ value: JSONValue?, default fallback: String, name: String, path: String) throws
        -> String
    {
        switch value {
        case nil, .null?: return fallback
        case let .string(text)?: return text
        default: throw RuntimeError.invalidTokenizer(path: path, reason: "'\(name)' is not a string")
        }
    }

    private static func normalizer(_ value: JSONValue?, path: String) throws -> BertNormalizer {
        guard let value, value != .null else {
            return BertNormalizer(cleanText: false, handleChineseCharacters: false, stripAccents: false, lowercase: false)
        }
        guard value["type"]?.stringValue == "BertNormalizer" else {
            throw RuntimeError.invalidTokenizer(
                path: path, reason: "normalizer '\(value["type"]?.stringValue ?? "?")' is not supported (only BertNormalizer)")
        }
        func flag(_ key: String, default fallback: Bool) throws -> Bool? {
            switch value[key] {
            case nil: return fallback
            case .null?: return nil
            case let .bool(flag)?: return flag
            default: throw RuntimeError.invalidTokenizer(path: path, reason: "normalizer '\(key)' is not a boolean")
            }
        }
        let lowercase = try flag("lowercase", default: true) ?? true
        return BertNormalizer(
            cleanText: try flag("clean_text", default: true) ?? true,
            handleChineseCharacters: try flag("handle_chinese_chars", default: true) ?? true,
            stripAccents: try flag("strip_accents", default: lowercase), lowercase: lowercase)
    }

    private static func addedTokens(_ value: JSONValue?, path: String) throws -> [AddedToken] {
        guard let value, value != .null else { return [] }
        guard let entries = value.arrayValue else {
            throw RuntimeError.invalidTokenizer(path: path, reason: "'added_tokens' is not an array")
        }
        return try entries.map { entry in
            guard let content = entry["content"]?.stringValue, let id = entry["id"]?.intValue else {
                throw RuntimeError.invalidTokenizer(path: path, reason: "an added token lacks 'content' or 'id'")
            }
            for option in ["single_word", "lstrip", "rstrip"] where entry[option]?.boolValue == true {
                throw RuntimeError.invalidTokenizer(
                    path: path, reason: "added token '\(content)' uses '\(option)', which is not supported")
            }
            let special = entry["special"]?.boolValue ?? false
            return AddedToken(content: content, id: id, normalized: entry["normalized"]?.boolValue ?? !special)
        }
    }

    /// The special tokens before and after the sequence in a single-sequence encoding.
    private static func template(_ value: JSONValue?, path: String) throws -> (prefix: [String], suffix: [String]) {
        func fail(_ reason: String) -> RuntimeError { .invalidTokenizer(path: path, reason: reason) }
        guard let value, value != .null else { return ([], []) }
        switch value["type"]?.stringValue {
        case "BertProcessing"?:
            guard let cls = value["cls"]?.arrayValue?.first?.stringValue,
                let sep = value["sep"]?.arrayValue?.first?.stringValue
            else { throw fail("BertProcessing lacks 'cls' or 'sep'") }
            return ([cls], [sep])
        case "TemplateProcessing"?:
            guard let pieces = value["single"]?.arrayValue else { throw fail("TemplateProcessing lacks 'single'") }
            var prefix: [String] = []
            var suffix: [String] = []
            var seenSequence = false
            for piece in pieces {
                if piece["Sequence"] != nil {
                    guard !seenSequence else { throw fail("single template holds the sequence twice") }
                    seenSequence = true
                } else if let name = piece["SpecialToken"]?["id"]?.stringValue {
                    // A special token may stand for several tokens; use them all.
                    let tokens = value["special_tokens"]?[name]?["tokens"]?.arrayValue?.compactMap(\.stringValue)
                    let expanded = tokens ?? [name]
                    if seenSequence { suffix += expanded } else { prefix += expanded }
                } else {
                    throw fail("unrecognised piece in the single template")
                }
            }
            guard seenSequence else { throw fail("single template has no sequence") }
            return (prefix, suffix)
        default:
            throw fail("post-processor '\(value["type"]?.stringValue ?? "?")' is not supported")
        }
    }
}

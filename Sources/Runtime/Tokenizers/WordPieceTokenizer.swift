/// A BERT WordPiece tokenizer that reproduces Hugging Face `tokenizers` exactly:
/// added (special) tokens matched in the raw text, `BertNormalizer`,
/// `BertPreTokenizer`, greedy longest-match-first WordPiece, and the
/// `[CLS] … [SEP]` template.
///
/// Load it with ``init(tokenizerFile:)`` (`tokenizer.json`),
/// ``init(vocabularyFile:configurationFile:)`` (`vocab.txt` + `tokenizer_config.json`)
/// or ``init(modelFolder:)``. Padding and truncation settings stored in the file are
/// ignored: callers choose them per call.
public struct WordPieceTokenizer: Sendable {
    /// One encoded text.
    public typealias Encoding = TokenEncoding
    /// Several encoded texts padded to a common length.
    public typealias Batch = TokenBatch

    /// The normaliser settings in use.
    public let normalizer: BertNormalizer
    /// Id of the unknown token (`[UNK]`).
    public let unknownID: Int
    /// Id used for padding (`[PAD]`).
    public let paddingID: Int
    /// Ids put before the text (`[CLS]`).
    public let prefixIDs: [Int]
    /// Ids put after the text (`[SEP]`).
    public let suffixIDs: [Int]

    let model: WordPieceModel
    let rawTokenMatcher: AddedTokenMatcher
    let normalizedTokenMatcher: AddedTokenMatcher
    private let tokensByID: [String?]
    private let idsByToken: [String: Int]

    /// Builds a tokenizer from its parts; `path` names the source in errors.
    init(
        vocabulary: [(token: String, id: Int)], unknownToken: String, continuingPrefix: String,
        maximumCharactersPerWord: Int, normalizer: BertNormalizer, addedTokens: [AddedToken],
        prefixTokens: [String], suffixTokens: [String], paddingToken: String, path: String
    ) throws {
        var idsByToken: [String: Int] = [:]
        var largestID = -1
        for (token, id) in vocabulary + addedTokens.map({ ($0.content, $0.id) }) {
            guard id >= 0, id < 1 << 24 else {
                throw RuntimeError.invalidTokenizer(path: path, reason: "token '\(token)' has id \(id) out of range")
            }
            idsByToken[token] = id
            largestID = max(largestID, id)
        }
        var tokensByID = [String?](repeating: nil, count: largestID + 1)
        for (token, id) in vocabulary { tokensByID[id] = token }
        for token in addedTokens { tokensByID[token.id] = token.content }
        func lookUp(_ token: String) throws -> Int {
            guard let id = idsByToken[token] else { throw RuntimeError.unknownToken(path: path, token: token) }
            return id
        }
        guard maximumCharactersPerWord > 0 else {
            throw RuntimeError.invalidTokenizer(path: path, reason: "max_input_chars_per_word must be positive")
        }
        self.normalizer = normalizer
        self.unknownID = try lookUp(unknownToken)
        self.paddingID = try lookUp(paddingToken)
        self.prefixIDs = try prefixTokens.map(lookUp)
        self.suffixIDs = try suffixTokens.map(lookUp)
        self.model = WordPieceModel(
            vocabulary: vocabulary, unknownID: unknownID, continuingPrefix: continuingPrefix,
            maximumCharactersPerWord: maximumCharactersPerWord)
        self.rawTokenMatcher = AddedTokenMatcher(addedTokens.filter { !$0.normalized })
        self.normalizedTokenMatcher = AddedTokenMatcher(addedTokens.filter { $0.normalized })
        self.tokensByID = tokensByID
        self.idsByToken = idsByToken
    }

    /// Number of ids the tokenizer can produce (largest id + 1).
    public var vocabularySize: Int { tokensByID.count }

    /// The id of `token` (vocabulary or added token), if it has one.
    public func id(forToken token: String) -> Int? { idsByToken[token] }

    /// The token an id stands for, if the id is in range.
    public func token(forID id: Int) -> String? {
        id >= 0 && id < tokensByID.count ? tokensByID[id] : nil
    }

    /// The ids of `text` without the special tokens around it and without truncation.
    public func tokenIDs(_ text: String) -> [Int] {
        var ids: [Int] = []
        let scalars = Array(text.unicodeScalars)
        for segment in rawTokenMatcher.split(scalars) {
            switch segment {
            case let .token(id):
                ids.append(id)
            case let .text(range):
                var normalized = Array(scalars[range])
                normalizer.normalize(&normalized)
                if normalizedTokenMatcher.isEmpty {
                    appendWordPieces(of: normalized, to: &ids)
                    continue
                }
                for piece in normalizedTokenMatcher.split(normalized) {
                    switch piece {
                    case let .token(id): ids.append(id)
                    case let .text(inner): appendWordPieces(of: Array(normalized[inner]), to: &ids)
                    }
                }
            }
        }
        return ids
    }

    /// The tokens of `text` without the special tokens around it and without truncation.
    public func tokens(_ text: String) -> [String] {
        tokenIDs(text).map { token(forID: $0) ?? "" }
    }

    /// Encodes `text` as `[CLS] tokens [SEP]`. With `maxLength`, keeps at most that many
    /// ids in total, special tokens included, dropping tokens from the end of the text
    /// (as `tokenizers` does with truncation enabled); a `maxLength` smaller than the
    /// number of special tokens keeps just the special tokens.
    public func encode(_ text: String, maxLength: Int? = nil) -> Encoding {
        var content = tokenIDs(text)
        var wasTruncated = false
        if let maxLength {
            let limit = max(0, maxLength - prefixIDs.count - suffixIDs.count)
            if content.count > limit {
                content.removeSubrange(limit...)
                wasTruncated = true
            }
        }
        let ids = prefixIDs + content + suffixIDs
        return Encoding(
            ids: ids, tokens: ids.map { token(forID: $0) ?? "" },
            attentionMask: [Int](repeating: 1, count: ids.count), wasTruncated: wasTruncated)
    }

    /// Encodes every text (see ``encode(_:maxLength:)``) and pads each row on the right
    /// with ``paddingID`` to the longest encoding; the attention mask is 0 on padding.
    public func encodeBatch(_ texts: [String], maxLength: Int? = nil) -> Batch {
        let encodings = texts.map { encode($0, maxLength: maxLength) }
        let sequenceLength = encodings.map(\.count).max() ?? 0
        var ids: [[Int]] = []
        var masks: [[Int]] = []
        ids.reserveCapacity(encodings.count)
        masks.reserveCapacity(encodings.count)
        for encoding in encodings {
            let padding = sequenceLength - encoding.count
            ids.append(encoding.ids + [Int](repeating: paddingID, count: padding))
            masks.append(encoding.attentionMask + [Int](repeating: 0, count: padding))
        }
        return Batch(
            ids: ids, attentionMask: masks, lengths: encodings.map(\.count),
            wasTruncated: encodings.map(\.wasTruncated), sequenceLength: sequenceLength)
    }

    /// `BertPreTokenizer` then WordPiece: words split at whitespace (dropped) and at
    /// every punctuation scalar (kept as a word of its own).
    private func appendWordPieces(of scalars: [Unicode.Scalar], to ids: inout [Int]) {
        scalars.withUnsafeBufferPointer { buffer in
            var wordStart = -1
            for index in 0..<buffer.count {
                let scalar = buffer[index]
                let isSpace = BertCharacterClass.isWhitespace(scalar)
                if isSpace || BertCharacterClass.isPunctuation(scalar) {
                    if wordStart >= 0 {
                        model.tokenize(buffer, from: wordStart, to: index, into: &ids)
                        wordStart = -1
                    }
                    if !isSpace { model.tokenize(buffer, from: index, to: index + 1, into: &ids) }
                } else if wordStart < 0 {
                    wordStart = index
                }
            }
            if wordStart >= 0 { model.tokenize(buffer, from: wordStart, to: buffer.count, into: &ids) }
        }
    }
}

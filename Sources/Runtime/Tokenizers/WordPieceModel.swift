/// The WordPiece model of `tokenizers`: each word becomes its greedy longest-match-first
/// decomposition into vocabulary entries (pieces after the first carry the continuing
/// prefix, `##`), or the unknown token when the word is too long or cannot be covered.
struct WordPieceModel: Sendable {
    /// Entries that may start a word (the whole vocabulary).
    private var wordStarts = VocabularyTrie()
    /// Entries that carry the continuing prefix, with the prefix removed.
    private var continuations = VocabularyTrie()
    let unknownID: Int
    let maximumCharactersPerWord: Int

    /// `vocabulary` pairs tokens with ids; `unknownID` must be one of the ids.
    init<Vocabulary: Sequence<(token: String, id: Int)>>(
        vocabulary: Vocabulary, unknownID: Int, continuingPrefix: String, maximumCharactersPerWord: Int
    ) {
        self.unknownID = unknownID
        self.maximumCharactersPerWord = maximumCharactersPerWord
        let prefix = Array(continuingPrefix.unicodeScalars)
        for (token, id) in vocabulary {
            let scalars = Array(token.unicodeScalars)
            wordStarts.insert(scalars, id: id)
            if prefix.isEmpty {
                continuations.insert(scalars, id: id)
            } else if scalars.count > prefix.count, scalars.starts(with: prefix) {
                continuations.insert(scalars[prefix.count...], id: id)
            }
        }
    }

    /// Appends the ids of the word `scalars[start..<end]` to `ids`.
    func tokenize(
        _ scalars: UnsafeBufferPointer<Unicode.Scalar>, from start: Int, to end: Int, into ids: inout [Int]
    ) {
        guard end > start else { return }
        if end - start > maximumCharactersPerWord {
            ids.append(unknownID)
            return
        }
        let firstPiece = ids.count
        var position = start
        while position < end {
            let trie = position == start ? wordStarts : continuations
            guard let match = trie.longestMatch(in: scalars, from: position, to: end) else {
                ids.removeSubrange(firstPiece...)
                ids.append(unknownID)
                return
            }
            ids.append(match.id)
            position += match.length
        }
    }
}

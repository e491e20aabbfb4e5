/// A token matched verbatim in the text before WordPiece runs (`added_tokens` of
/// `tokenizer.json`: `[CLS]`, `[SEP]`, `[UNK]`, `[PAD]`, `[MASK]` and user additions).
struct AddedToken: Sendable, Equatable {
    /// The token text.
    var content: String
    var id: Int
    /// True when the token is matched in normalised text, false when in the raw input.
    var normalized: Bool
}

/// Finds added tokens in a scalar sequence the way `tokenizers` does: leftmost match
/// first, the longest token at that position, matches never overlapping.
struct AddedTokenMatcher: Sendable {
    /// A piece of the input: plain text (a scalar range) or a matched token id.
    enum Segment: Equatable {
        case text(Range<Int>)
        case token(Int)
    }

    /// Tokens by first scalar, longest first.
    private var candidates: [UInt32: [(scalars: [Unicode.Scalar], id: Int)]] = [:]

    init<Tokens: Sequence<AddedToken>>(_ tokens: Tokens) {
        for token in tokens {
            let scalars = Array(token.content.unicodeScalars)
            guard let first = scalars.first else { continue }
            candidates[first.value, default: []].append((scalars, token.id))
        }
        for key in candidates.keys {
            candidates[key]?.sort { $0.scalars.count > $1.scalars.count }
        }
    }

    /// True when there is nothing to match.
    var isEmpty: Bool { candidates.isEmpty }

    /// Splits `scalars` into text runs and matched tokens, in order.
    func split(_ scalars: [Unicode.Scalar]) -> [Segment] {
        if candidates.isEmpty { return scalars.isEmpty ? [] : [.text(0..<scalars.count)] }
        var segments: [Segment] = []
        var textStart = 0
        var position = 0
        while position < scalars.count {
            if let options = candidates[scalars[position].value],
                let match = options.first(where: { matches($0.scalars, in: scalars, at: position) })
            {
                if textStart < position { segments.append(.text(textStart..<position)) }
                segments.append(.token(match.id))
                position += match.scalars.count
                textStart = position
            } else {
                position += 1
            }
        }
        if textStart < scalars.count { segments.append(.text(textStart..<scalars.count)) }
        return segments
    }

    private func matches(_ token: [Unicode.Scalar], in scalars: [Unicode.Scalar], at position: Int) -> Bool {
        guard scalars.count - position >= token.count else { return false }
        for offset in 0..<token.count where scalars[position + offset] != token[offset] {
            return false
        }
        return true
    }
}

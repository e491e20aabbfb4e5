/// One text turned into model input: token ids with the special tokens around them.
public struct TokenEncoding: Sendable, Equatable {
    /// Token ids, special tokens included.
    public var ids: [Int]
    /// The tokens the ids stand for.
    public var tokens: [String]
    /// 1 for every position (an unpadded sequence attends to all of its tokens).
    public var attentionMask: [Int]
    /// True when tokens were dropped to respect the requested maximum length.
    public var wasTruncated: Bool

    public init(ids: [Int], tokens: [String], attentionMask: [Int], wasTruncated: Bool) {
        self.ids = ids
        self.tokens = tokens
        self.attentionMask = attentionMask
        self.wasTruncated = wasTruncated
    }

    /// Number of tokens.
    public var count: Int { ids.count }
}

/// Several texts padded on the right to the longest one, ready to stack into a
/// `[batch, sequenceLength]` tensor.
public struct TokenBatch: Sendable, Equatable {
    /// Per row: the ids, followed by the padding id up to `sequenceLength`.
    public var ids: [[Int]]
    /// Per row: 1 on real tokens, 0 on padding.
    public var attentionMask: [[Int]]
    /// Per row: the number of real (unpadded) tokens.
    public var lengths: [Int]
    /// Per row: whether the text was truncated.
    public var wasTruncated: [Bool]
    /// Length of every row (the longest encoding; 0 for an empty batch).
    public var sequenceLength: Int

    public init(ids: [[Int]], attentionMask: [[Int]], lengths: [Int], wasTruncated: [Bool], sequenceLength: Int) {
        self.ids = ids
        self.attentionMask = attentionMask
        self.lengths = lengths
        self.wasTruncated = wasTruncated
        self.sequenceLength = sequenceLength
    }

    /// Number of rows.
    public var count: Int { ids.count }

    /// The ids row after row (`count × sequenceLength` values).
    public var flattenedIDs: [Int] { ids.flatMap { $0 } }

    /// The attention mask row after row (`count × sequenceLength` values).
    public var flattenedAttentionMask: [Int] { attentionMask.flatMap { $0 } }
}

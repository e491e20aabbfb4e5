/// A prefix tree over Unicode scalars mapping vocabulary entries to token ids. WordPiece
/// asks it for the longest entry that starts at a given position, which is the same
/// answer as trying every shorter substring against a dictionary, in one pass.
struct VocabularyTrie: Sendable {
    /// Child of (node, scalar), keyed by `node << 21 | scalar` (scalars fit in 21 bits).
    private var children: [UInt64: Int32] = [:]
    /// Token id ending at each node, or -1.
    private var tokenIDs: [Int32] = [-1]

    init() {}

    /// Adds `token`; a repeated token takes the later id. Empty tokens are ignored.
    mutating func insert<Scalars: Sequence<Unicode.Scalar>>(_ token: Scalars, id: Int) {
        var node: Int32 = 0
        var isEmpty = true
        for scalar in token {
            isEmpty = false
            let key = UInt64(node) << 21 | UInt64(scalar.value)
            if let child = children[key] {
                node = child
            } else {
                let child = Int32(tokenIDs.count)
                tokenIDs.append(-1)
                children[key] = child
                node = child
            }
        }
        if !isEmpty { tokenIDs[Int(node)] = Int32(id) }
    }

    /// The longest entry that is a prefix of `scalars[start..<end]`, as (length, id).
    @inline(__always)
    func longestMatch(
        in scalars: UnsafeBufferPointer<Unicode.Scalar>, from start: Int, to end: Int
    ) -> (length: Int, id: Int)? {
        var node: Int32 = 0
        var best: (length: Int, id: Int)?
        var position = start
        while position < end {
            let key = UInt64(node) << 21 | UInt64(scalars[position].value)
            guard let child = children[key] else { break }
            node = child
            position += 1
            let id = tokenIDs[Int(node)]
            if id >= 0 { best = (position - start, Int(id)) }
        }
        return best
    }
}

import Dispatch

/// Splits work into a fixed number of chunks and runs them on up to `threads` cores.
/// Chunk boundaries depend only on the work size, never on the thread count, so results
/// are identical for any number of threads.
public enum Parallel {
    /// Runs `body(range)` for consecutive ranges covering `0..<count`, each at most
    /// `chunkSize` long, using up to `threads` threads.
    public static func forEachChunk(count: Int, chunkSize: Int, threads: Int,
                                    _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let size = max(1, chunkSize)
        let chunks = (count + size - 1) / size
        if threads <= 1 || chunks == 1 {
            for chunk in 0..<chunks { body(chunk * size..<min(count, (chunk + 1) * size)) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                box.value(chunk * size..<min(count, (chunk + 1) * size))
            }
        }
    }
}

/// Carries a value across a `@Sendable` boundary when the caller guarantees that the
/// concurrent uses touch disjoint memory.
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}

import CKernels

/// Splits work into chunks and runs them on up to `threads` cores through the persistent
/// worker pool of `CKernels`. Callers choose chunk boundaries from the work's shape only,
/// never from the thread count, so results are identical for any number of threads.
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
            var job = ChunkJob(count: count, size: size, body: body)
            withUnsafeMutablePointer(to: &job) { pointer in
                aimet_pool_run(chunks, Int32(threads), { context, chunk in
                    let job = context!.assumingMemoryBound(to: ChunkJob.self)
                    let start = chunk * job.pointee.size
                    job.pointee.body(start..<min(job.pointee.count, start + job.pointee.size))
                }, pointer)
            }
        }
    }
}

/// What one parallel loop runs, handed to the C pool by pointer.
private struct ChunkJob {
    let count: Int
    let size: Int
    let body: (Range<Int>) -> Void
}

/// Carries a value across a `@Sendable` boundary when the caller guarantees that the
/// concurrent uses touch disjoint memory.
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}

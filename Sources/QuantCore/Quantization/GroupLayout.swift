/// How the elements of a row-major tensor map to encoding groups for a granularity.
///
/// A tensor is viewed as `[outer, extent, inner]` around the granularity's axis. Elements are
/// visited in *segments* of consecutive memory; inside a segment the group index starts at
/// `groupBase` and advances by `groupStride` (0 or 1) per element. Per-tensor is one segment,
/// per-channel has one segment per (outer, channel), per-block has one segment per block when the
/// axis is the last one (the common `[out, in]` case) and otherwise one per (outer, index).
struct GroupLayout: Sendable, Equatable {
    let granularity: Granularity
    let shape: [Int]
    let outer: Int
    let extent: Int
    let inner: Int
    /// Shape of the scale (and zero-point) tensor: `[]`, `[channels]` or the tensor shape with
    /// the block axis divided by the block size.
    let scaleShape: [Int]

    var groupCount: Int { Tensor.elementCount(of: scaleShape) }
    var elementCount: Int { outer * extent * inner }

    init(shape: [Int], granularity: Granularity) throws {
        self.granularity = granularity
        self.shape = shape
        switch granularity {
        case .perTensor:
            outer = 1
            extent = 1
            inner = Tensor.elementCount(of: shape)
            scaleShape = []
        case .perChannel(let axis):
            guard axis >= 0, axis < shape.count else { throw QuantizationError.invalidAxis(axis: axis, rank: shape.count) }
            outer = Tensor.elementCount(of: Array(shape[..<axis]))
            extent = shape[axis]
            inner = Tensor.elementCount(of: Array(shape[(axis + 1)...]))
            scaleShape = [shape[axis]]
        case .perBlock(let axis, let size):
            guard axis >= 0, axis < shape.count else { throw QuantizationError.invalidAxis(axis: axis, rank: shape.count) }
            guard size > 0, shape[axis] % size == 0 else { throw QuantizationError.invalidBlockSize(size: size, extent: shape[axis]) }
            outer = Tensor.elementCount(of: Array(shape[..<axis]))
            extent = shape[axis]
            inner = Tensor.elementCount(of: Array(shape[(axis + 1)...]))
            var blocked = shape
            blocked[axis] = shape[axis] / size
            scaleShape = blocked
        }
    }

    /// Calls `body(start, length, groupBase, groupStride)` for every segment, in memory order.
    @inline(__always)
    func forEachSegment(_ body: (_ start: Int, _ length: Int, _ groupBase: Int, _ groupStride: Int) throws -> Void) rethrows {
        switch granularity {
        case .perTensor:
            if inner > 0 { try body(0, inner, 0, 0) }
        case .perChannel:
            guard inner > 0 else { return }
            for outerIndex in 0..<outer {
                for channel in 0..<extent {
                    try body((outerIndex * extent + channel) * inner, inner, channel, 0)
                }
            }
        case .perBlock(_, let size):
            let blocks = extent / size
            if inner == 1 {
                for outerIndex in 0..<outer {
                    for block in 0..<blocks {
                        try body(outerIndex * extent + block * size, size, outerIndex * blocks + block, 0)
                    }
                }
            } else if inner > 0 {
                for outerIndex in 0..<outer {
                    for index in 0..<extent {
                        try body((outerIndex * extent + index) * inner, inner, (outerIndex * blocks + index / size) * inner, 1)
                    }
                }
            }
        }
    }
}

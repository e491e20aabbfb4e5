/// A dense tensor of `Float` values in row-major (C) order.
public struct Tensor: Sendable, Equatable {
    /// Extent of each axis, outermost first. A scalar has an empty shape.
    public let shape: [Int]
    /// Contiguous row-major storage; `scalars.count == shape.product`.
    public var scalars: [Float]

    /// Creates a tensor from its shape and scalars.
    /// - Precondition: `scalars.count` equals the product of `shape` (an internal invariant).
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        precondition(Tensor.elementCount(of: shape) == scalars.count,
                     "shape \(shape) needs \(Tensor.elementCount(of: shape)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: 0, count: Tensor.elementCount(of: shape)))
    }

    /// Number of elements.
    public var count: Int { scalars.count }

    /// Number of axes.
    public var rank: Int { shape.count }

    /// Product of the extents of `shape` (1 for a scalar).
    public static func elementCount(of shape: [Int]) -> Int {
        shape.reduce(1, *)
    }
}

import CKernels

/// A right-hand GEMM operand packed for `aimet_sgemm_packed` (panels of 16 columns).
public struct PackedMatrix: Sendable {
    /// Output columns (a linear layer's output features).
    public let columns: Int
    /// Reduction depth (a linear layer's input features).
    public let depth: Int
    /// The packed floats.
    public let storage: [Float]

    /// Packs a linear layer's weight `[columns, depth]` (row-major) for y = x·Wᵀ.
    public init(transposing weight: UnsafePointer<Float>, columns: Int, depth: Int) {
        self.columns = columns
        self.depth = depth
        let count = aimet_sgemm_packed_count(columns, depth)
        storage = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            aimet_sgemm_pack_transposed(weight, depth, columns, depth, buffer.baseAddress!)
            initialized = count
        }
    }

    /// Packs a linear layer's weight tensor `[columns, depth]`.
    public init(linearWeight: [Float], columns: Int, depth: Int) {
        self = linearWeight.withUnsafeBufferPointer { PackedMatrix(transposing: $0.baseAddress!, columns: columns, depth: depth) }
    }

    /// Floats per 16-column panel.
    var panelStride: Int { depth * 16 }
    /// Number of 16-column panels.
    var panels: Int { (columns + 15) / 16 }
}

import CKernels

/// How many input features share one weight scale (and zero point).
public enum WeightScaleGranularity: Equatable, Sendable {
    /// One scale per output channel: scales `[columns]`.
    case perChannel
    /// One scale per output channel and block of `size` consecutive input features:
    /// scales `[columns, ⌈depth / size⌉]` (the last block may be short). `size` is a positive
    /// multiple of 16.
    case perBlock(size: Int)

    /// The block argument of the C kernels (0 = per channel).
    var kernelBlock: Int {
        switch self {
        case .perChannel: return 0
        case let .perBlock(size): return size
        }
    }

    /// Scales (and zero points) expected for a `[columns, depth]` weight.
    func scaleCount(columns: Int, depth: Int) -> Int {
        switch self {
        case .perChannel: return columns
        case let .perBlock(size): return columns * ((depth + size - 1) / size)
        }
    }
}

/// A symmetric int8 weight `[columns, depth]` (values in −127…127, one scale per output
/// column) packed for the W8A8 kernel, with its per-column sums.
public struct PackedInt8Matrix: Sendable {
    /// Output columns (a linear layer's output features).
    public let columns: Int
    /// Reduction depth (a linear layer's input features).
    public let depth: Int
    /// Per-output-column weight scales.
    public let scales: [Float]
    /// Packed weights (panels of 16 columns × groups of 4 depths).
    let storage: [Int8]
    /// Σ_k W[j, k] for every column j.
    let columnSums: [Int32]

    /// Packs `weight` (row-major `[columns, depth]`). `name` identifies the tensor in errors.
    /// Throws when a count does not match the shape or a weight is −128.
    public init(weight: [Int8], scales: [Float], columns: Int, depth: Int, name: String = "weight") throws {
        (storage, columnSums) = try Int8WeightPacking.pack(
            weight: weight, scales: scales, columns: columns, depth: depth, name: name, kernel: "W8A8",
            count: { aimet_w8a8_packed_size(columns, depth) }) { aimet_w8a8_pack($0, depth, columns, depth, $1, $2) }
        self.columns = columns
        self.depth = depth
        self.scales = scales
    }

    /// Bytes per 16-column panel.
    var panelStride: Int { aimet_w8a8_panel_bytes(depth) }
    /// Number of 16-column panels.
    var panels: Int { (columns + 15) / 16 }
}

/// An int8 or int4 weight `[columns, depth]` with per-channel or per-block scales and
/// optional zero points, packed for the weight-only kernels (float activations).
/// Dequantised weight: `(q − zeroPoint) · scale`.
public struct PackedWeightOnlyMatrix: Sendable {
    /// Bits per stored weight: 8 or 4.
    public let bits: Int
    /// Output columns (a linear layer's output features).
    public let columns: Int
    /// Reduction depth (a linear layer's input features).
    public let depth: Int
    /// How scales are shared along the depth.
    public let granularity: WeightScaleGranularity
    /// Packed weights (panels of 16 columns).
    let storage: [UInt8]
    /// Scales packed per panel and block.
    let packedScales: [Float]
    /// Zero points packed like the scales; nil for symmetric 8-bit weights.
    let packedZeroPoints: [Float]?

    /// Signed int8 weights (row-major `[columns, depth]`), symmetric when `zeroPoints` is nil.
    public init(int8 weight: [Int8], columns: Int, depth: Int, granularity: WeightScaleGranularity,
                scales: [Float], zeroPoints: [Int32]? = nil, name: String = "weight") throws {
        try Self.validate(name: name, values: weight.count, expected: columns * depth, columns: columns, depth: depth,
                          granularity: granularity, scales: scales, zeroPoints: zeroPoints)
        self = weight.withUnsafeBufferPointer { source in
            Self(bits: 8, columns: columns, depth: depth, granularity: granularity, scales: scales, zeroPoints: zeroPoints) {
                aimet_wo_pack_s8(source.baseAddress, depth, columns, depth, granularity.kernelBlock, $0, $1, $2, $3, $4)
            }
        }
    }

    /// Unsigned (asymmetric) uint8 weights with their zero points.
    public init(uint8 weight: [UInt8], columns: Int, depth: Int, granularity: WeightScaleGranularity,
                scales: [Float], zeroPoints: [Int32], name: String = "weight") throws {
        try Self.validate(name: name, values: weight.count, expected: columns * depth, columns: columns, depth: depth,
                          granularity: granularity, scales: scales, zeroPoints: zeroPoints)
        self = weight.withUnsafeBufferPointer { source in
            Self(bits: 8, columns: columns, depth: depth, granularity: granularity, scales: scales, zeroPoints: zeroPoints) {
                aimet_wo_pack_u8(source.baseAddress, depth, columns, depth, granularity.kernelBlock, $0, $1, $2, $3, $4)
            }
        }
    }

    /// 4-bit weights in the compressed-model layout: row-major `[columns, ⌈depth / 2⌉]` bytes,
    /// the even input feature in the low nibble; two's-complement signed when `zeroPoints`
    /// is nil, unsigned (0…15) with zero points otherwise.
    public init(int4Packed weight: [UInt8], columns: Int, depth: Int, granularity: WeightScaleGranularity,
                scales: [Float], zeroPoints: [Int32]? = nil, name: String = "weight") throws {
        let rowBytes = (depth + 1) / 2
        try Self.validate(name: name, values: weight.count, expected: columns * rowBytes, columns: columns, depth: depth,
                          granularity: granularity, scales: scales, zeroPoints: zeroPoints)
        self = weight.withUnsafeBufferPointer { source in
            Self(bits: 4, columns: columns, depth: depth, granularity: granularity, scales: scales, zeroPoints: zeroPoints) {
                aimet_wo_pack_4bit(source.baseAddress, rowBytes, columns, depth, granularity.kernelBlock, $0, $1, $2, $3, $4)
            }
        }
    }

    /// Allocates the packed arrays and lets `pack(scales, zeroPoints, packed, packedScales,
    /// packedZeroPoints)` fill them (inputs already validated).
    private init(bits: Int, columns: Int, depth: Int, granularity: WeightScaleGranularity, scales: [Float],
                 zeroPoints: [Int32]?,
                 pack: (UnsafePointer<Float>?, UnsafePointer<Int32>?, UnsafeMutablePointer<UInt8>?,
                        UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?) -> Int32) {
        let block = granularity.kernelBlock
        var storage = [UInt8](repeating: 0, count: aimet_wo_packed_size(Int32(bits), columns, depth))
        var packedScales = [Float](repeating: 0, count: aimet_wo_packed_scale_count(columns, depth, block))
        // 4-bit packing always writes zero points (8 for symmetric weights).
        var packedZeroPoints = zeroPoints != nil || bits == 4 ? packedScales : nil
        let status = scales.withUnsafeBufferPointer { scales in
            storage.withUnsafeMutableBufferPointer { storage in
                packedScales.withUnsafeMutableBufferPointer { packedScales in
                    Self.withOptionalPointer(zeroPoints) { zeroPoints in
                        Self.withOptionalMutablePointer(&packedZeroPoints) { packedZeroPoints in
                            pack(scales.baseAddress, zeroPoints, storage.baseAddress, packedScales.baseAddress, packedZeroPoints)
                        }
                    }
                }
            }
        }
        precondition(status == 0, "weight-only packing rejected validated input")
        self.bits = bits
        self.columns = columns
        self.depth = depth
        self.granularity = granularity
        self.storage = storage
        self.packedScales = packedScales
        self.packedZeroPoints = packedZeroPoints
    }

    private static func validate(name: String, values: Int, expected: Int, columns: Int, depth: Int,
                                 granularity: WeightScaleGranularity, scales: [Float], zeroPoints: [Int32]?) throws {
        guard columns >= 0, depth >= 0, values == expected else {
            throw RuntimeError.shapeMismatch(node: name, reason: "weight has \(values) stored values, expected \(expected) for \(columns) × \(depth)")
        }
        if case let .perBlock(size) = granularity, size <= 0 || aimet_wo_block_is_valid(size) == 0 {
            throw RuntimeError.shapeMismatch(node: name, reason: "block size \(size) is not a positive multiple of 16")
        }
        let expectedScales = granularity.scaleCount(columns: columns, depth: depth)
        guard scales.count == expectedScales else {
            throw RuntimeError.shapeMismatch(node: name, reason: "\(scales.count) scales, expected \(expectedScales)")
        }
        if let zeroPoints, zeroPoints.count != expectedScales {
            throw RuntimeError.shapeMismatch(node: name, reason: "\(zeroPoints.count) zero points, expected \(expectedScales)")
        }
    }

    private static func withOptionalPointer<R>(_ array: [Int32]?, _ body: (UnsafePointer<Int32>?) -> R) -> R {
        guard let array else { return body(nil) }
        return array.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    private static func withOptionalMutablePointer<R>(_ array: inout [Float]?, _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
        guard array != nil else { return body(nil) }
        return array!.withUnsafeMutableBufferPointer { body($0.baseAddress) }
    }

    /// Bytes per 16-column panel of packed weights.
    var panelStride: Int { aimet_wo_panel_bytes(Int32(bits), depth) }
    /// Floats per 16-column panel of packed scales (and zero points).
    var panelScaleStride: Int { aimet_wo_panel_scales(depth, granularity.kernelBlock) }
    /// Number of 16-column panels.
    var panels: Int { (columns + 15) / 16 }
}

/// A symmetric int8 weight `[columns, depth]` (values in −127…127, one scale per output
/// column) packed for the W8A16 kernel (int16 lanes, panels of 16 columns × pairs of depths),
/// with its per-column sums.
public struct PackedW8A16Matrix: Sendable {
    /// Output columns (a linear layer's output features).
    public let columns: Int
    /// Reduction depth (a linear layer's input features).
    public let depth: Int
    /// Per-output-column weight scales.
    public let scales: [Float]
    /// Packed weights, sign-extended to int16.
    let storage: [Int16]
    /// Σ_k W[j, k] for every column j.
    let columnSums: [Int32]

    /// The largest depth the kernel keeps exact.
    public static let maximumDepth = Int(AIMET_W8A16_MAX_DEPTH)

    /// Packs `weight` (row-major `[columns, depth]`). `name` identifies the tensor in errors.
    /// Throws when a count does not match the shape, the depth exceeds `maximumDepth`, or a
    /// weight is −128.
    public init(weight: [Int8], scales: [Float], columns: Int, depth: Int, name: String = "weight") throws {
        guard depth <= Self.maximumDepth else {
            throw RuntimeError.shapeMismatch(node: name, reason: "depth \(depth) exceeds the W8A16 kernel's exact limit \(Self.maximumDepth)")
        }
        (storage, columnSums) = try Int8WeightPacking.pack(
            weight: weight, scales: scales, columns: columns, depth: depth, name: name, kernel: "W8A16",
            count: { aimet_w8a16_packed_count(columns, depth) }) { aimet_w8a16_pack($0, depth, columns, depth, $1, $2) }
        self.columns = columns
        self.depth = depth
        self.scales = scales
    }

    /// int16 elements per 16-column panel.
    var panelStride: Int { aimet_w8a16_panel_count(depth) }
    /// Number of 16-column panels.
    var panels: Int { (columns + 15) / 16 }
}

/// The checks and the packing call shared by the integer kernels' int8 weight matrices.
enum Int8WeightPacking {
    /// Checks the counts of `weight` (row-major `[columns, depth]`) and `scales`, then lets
    /// `pack` (a C packer: source, `count()` packed elements, column sums; non-zero status when
    /// a weight is −128) fill the storage.
    static func pack<Element>(weight: [Int8], scales: [Float], columns: Int, depth: Int, name: String, kernel: String, count: () -> Int,
                              pack: (UnsafePointer<Int8>?, UnsafeMutablePointer<Element>?, UnsafeMutablePointer<Int32>?) -> Int32)
        throws -> ([Element], [Int32]) {
        guard columns >= 0, depth >= 0, weight.count == columns * depth else {
            throw RuntimeError.shapeMismatch(node: name, reason: "int8 weight has \(weight.count) values, expected \(columns) × \(depth)")
        }
        guard scales.count == columns else {
            throw RuntimeError.shapeMismatch(node: name, reason: "\(scales.count) weight scales for \(columns) output channels")
        }
        var sums = [Int32](repeating: 0, count: columns)
        var status: Int32 = 0
        let count = count()
        let packed = [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            weight.withUnsafeBufferPointer { source in
                sums.withUnsafeMutableBufferPointer { sums in
                    status = pack(source.baseAddress, buffer.baseAddress, sums.baseAddress)
                }
            }
            initialized = count
        }
        guard status == 0 else {
            throw RuntimeError.shapeMismatch(node: name, reason: "\(kernel) weights must lie in −127…127; found −128")
        }
        return (packed, sums)
    }
}

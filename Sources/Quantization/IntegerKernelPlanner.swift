import ModelGraph
import ModelIO
import QuantCore
import Runtime

/// Chooses, for each linear layer of a compressed model, the integer kernel it runs on.
public enum IntegerKernelPlanner {
    /// The result: kernels by node name, and the layers that stay on fp32 (with why).
    public struct Plan: Sendable {
        public var linears: [String: QuantizedLinear]
        public var floatFallbacks: [String]
        /// Nodes whose output quantizer the integer kernel applies itself: the activation
        /// tap must leave them alone (applying it twice gives the same values, only slower).
        public var fusedOutputEncodings: Set<String> = []
    }

    /// The activation encodings a tap still has to apply when the kernels of `plan` run.
    public static func tapEncodings(_ encodings: [String: Encoding], plan: Plan) -> [String: Encoding] {
        encodings.filter { !plan.fusedOutputEncodings.contains($0.key) }
    }

    /// The in-kernel form of a per-tensor output encoding (nil for other layouts).
    static func outputGrid(_ encoding: Encoding?) -> QuantizedOutputGrid? {
        guard let encoding, encoding.scales.count == 1, encoding.zeroPoints.count == 1 else { return nil }
        let range = encoding.scheme.quantizedRange, zero = encoding.zeroPoints[0]
        return QuantizedOutputGrid(scale: encoding.scales[0], low: Float(range.lowerBound - zero),
                                   high: Float(range.upperBound - zero))
    }

    /// W8A8 when the weight is 8-bit symmetric (per-tensor or per-channel) and the layer's
    /// input carries an 8-bit activation quantizer; W8A16 for such weights when the input's
    /// quantizer is per-tensor with 9 to 16 bits; weight-only int8/int4 kernels otherwise
    /// (per-channel, or per-block with blocks a multiple of 16); fp32 for anything else.
    public static func plan(graph: Graph, model: CompressedModel, activationEncodings: [String: Encoding]) throws -> Plan {
        var linears: [String: QuantizedLinear] = [:]
        var fallbacks: [String] = []
        var fused: Set<String> = []
        for node in graph.nodes where node.op == .linear {
            guard let source = node.parameterSources["weight"], model.bits[source] != nil else { continue }
            let record = try model.record(named: source)
            guard record.shape.count == 2 else { fallbacks.append("\(node.name): weight is not 2-D"); continue }
            let inputEncoding = graph.producer(of: node.inputs[0]).flatMap { activationEncodings[$0.name] }
            let grid = outputGrid(activationEncodings[node.name])
            guard let kernel = try kernel(for: record, columns: record.shape[0], depth: record.shape[1], inputEncoding: inputEncoding,
                                          outputGrid: grid, layer: node.name) else {
                fallbacks.append("\(node.name): \(record.bits)-bit scales \(record.scaleShape) have no integer kernel; runs in fp32")
                continue
            }
            if grid != nil, kernel.appliesOutputGrid { fused.insert(node.name) }
            linears[node.name] = kernel
        }
        return Plan(linears: linears, floatFallbacks: fallbacks, fusedOutputEncodings: fused)
    }

    /// The kernel of a weight read as a `[columns, depth]` matrix (a linear layer's weight,
    /// or a dense convolution's OHWI weight flattened) whose layer reads `inputEncoding`:
    /// W8A8 for 8-bit symmetric weights (per-tensor or per-channel) and an 8-bit per-tensor
    /// input, W8A16 for such weights and a 9- to 16-bit per-tensor input, weight-only int8 /
    /// int4 otherwise (per-channel, or per-block with blocks a multiple of 16 for 2-D
    /// weights); nil when none applies.
    static func kernel(for record: QuantizedTensorRecord, columns: Int, depth: Int, inputEncoding: Encoding?,
                       outputGrid grid: QuantizedOutputGrid?, layer: String) throws -> QuantizedLinear? {
        let scales = record.scales.count == 1 ? Array(repeating: record.scales[0], count: columns) : record.scales
        if record.bits == 8, record.symmetric, record.scaleShape.count <= 1, let encoding = inputEncoding, encoding.scales.count == 1 {
            if encoding.scheme.bits == 8 {
                let matrix = try PackedInt8Matrix(weight: record.values.map { Int8($0) }, scales: scales,
                                                  columns: columns, depth: depth, name: record.name)
                // A symmetric 8-bit activation grid (−127…127, zero point 0) is the unsigned
                // grid shifted by 128.
                let zeroPoint = encoding.scheme.symmetry == .symmetric ? 128 : encoding.zeroPoints[0]
                return .integer(matrix, activationScale: encoding.scales[0], zeroPoint: zeroPoint, outputGrid: grid)
            }
            if (9...16).contains(encoding.scheme.bits) {
                let matrix = try PackedW8A16Matrix(weight: record.values.map { Int8($0) }, scales: scales,
                                                   columns: columns, depth: depth, name: record.name)
                let input = try SixteenBitInputGrid(scale: encoding.scales[0], zeroPoint: encoding.zeroPoints[0],
                                                    range: encoding.scheme.quantizedRange, name: layer)
                return .integer16(matrix, input: input, outputGrid: grid)
            }
        }
        // Per-block scales exist only for 2-D weights.
        guard record.scaleShape.count <= 1 || record.shape.count == 2, let granularity = weightGranularity(record),
              record.bits == 8 || record.bits == 4 else { return nil }
        let zeroPoints = record.zeroPoints.map { $0.count == 1 ? Array(repeating: $0[0], count: columns) : $0 }
        switch (record.bits, record.symmetric) {
        case (8, true):
            return .weightOnly(try PackedWeightOnlyMatrix(int8: record.values.map { Int8($0) }, columns: columns, depth: depth,
                                                          granularity: granularity, scales: scales, name: record.name))
        case (8, false):
            return .weightOnly(try PackedWeightOnlyMatrix(uint8: record.values.map { UInt8($0) }, columns: columns, depth: depth,
                                                          granularity: granularity, scales: scales, zeroPoints: zeroPoints ?? [],
                                                          name: record.name))
        default:
            // Packed along the depth; an odd depth gets a zero nibble at the end of each row,
            // which the kernel never reads.
            let paddedDepth = depth + depth % 2
            let values = depth % 2 == 0 ? record.values
                : (0..<columns).flatMap { Array(record.values[($0 * depth)..<(($0 + 1) * depth)]) + [0] }
            let packed = try Int4Packing.pack(values, shape: [columns, paddedDepth], signed: record.symmetric)
            return .weightOnly(try PackedWeightOnlyMatrix(int4Packed: packed, columns: columns, depth: depth, granularity: granularity,
                                                          scales: scales, zeroPoints: zeroPoints, name: record.name))
        }
    }

    static func weightGranularity(_ record: QuantizedTensorRecord) -> WeightScaleGranularity? {
        switch record.scaleShape.count {
        case 0, 1: return .perChannel
        default:
            guard let block = record.blockSize, block % 16 == 0 else { return nil }
            return .perBlock(size: block)
        }
    }
}

extension QuantizedLinear {
    /// True when the kernel applies its layer's output grid itself.
    var appliesOutputGrid: Bool {
        switch self {
        case .integer(_, _, _, let grid): return grid != nil
        case .integer16(_, _, let grid): return grid != nil
        case .weightOnly: return false
        }
    }
}

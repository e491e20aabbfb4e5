import ModelGraph
import ModelIO
import QuantCore
import Runtime

/// Chooses, for each convolution (and, through `IntegerKernelPlanner`, each linear layer) of
/// a compressed classifier, the integer kernel it runs on.
///
/// Dense convolutions (one group) get the kernel `IntegerKernelPlanner.kernel` chooses for
/// their weight flattened to `[out, kh·kw·in]` on im2col rows: W8A8 or W8A16 by the width of
/// the conv's input encoding, the weight-only int8 / int4 kernels otherwise.
/// Depthwise convolutions with symmetric 8- or 4-bit weights: the direct integer kernel
/// with an 8-bit input encoding, the weight-only direct kernel without. Everything else
/// (grouped convolutions, per-block or asymmetric depthwise weights) stays fp32 and is
/// listed in `floatFallbacks`.
public enum IntegerConvolutionPlanner {
    /// Kernels by node name, the layers left on fp32 (with why), and the nodes whose output
    /// quantizer the kernel applies itself.
    public struct Plan: Sendable {
        public var convolutions: [String: QuantizedConvolution]
        public var linears: [String: QuantizedLinear]
        public var floatFallbacks: [String]
        public var fusedOutputEncodings: Set<String>

        /// The activation encodings an `ActivationQuantizationTap` still has to apply.
        public func tapEncodings(_ encodings: [String: Encoding]) -> [String: Encoding] {
            encodings.filter { !fusedOutputEncodings.contains($0.key) }
        }

        /// One line per kernel kind with its layer count, then the fallbacks.
        public var notes: [String] {
            let kinds = Dictionary(grouping: convolutions.values.map(\.kernelName) + linears.values.map(\.kernelName), by: { $0 })
            return kinds.keys.sorted().map { "\(kinds[$0]!.count) layers on \($0)" } + floatFallbacks
        }
    }

    /// Plans every conv2d and linear node of `graph` whose weight `model` stores quantized.
    public static func plan(graph: Graph, model: CompressedModel, activationEncodings: [String: Encoding]) throws -> Plan {
        let linearPlan = try IntegerKernelPlanner.plan(graph: graph, model: model, activationEncodings: activationEncodings)
        var plan = Plan(convolutions: [:], linears: linearPlan.linears, floatFallbacks: linearPlan.floatFallbacks,
                        fusedOutputEncodings: linearPlan.fusedOutputEncodings)
        for node in graph.nodes {
            guard case let .conv2d(attributes) = node.op, let source = node.parameterSources["weight"], model.bits[source] != nil else {
                continue
            }
            let record = try model.record(named: source)
            guard record.shape.count == 4 else {
                plan.floatFallbacks.append("\(node.name): weight \(record.shape) is not [out, kh, kw, in/groups]; runs in fp32")
                continue
            }
            let outputs = record.shape[0], taps = record.shape[1] * record.shape[2], groupInputs = record.shape[3]
            let inputEncoding = graph.producer(of: node.inputs[0]).flatMap { activationEncodings[$0.name] }
            let input = eightBitInput(inputEncoding)
            let grid = IntegerKernelPlanner.outputGrid(activationEncodings[node.name])
            let kernel: QuantizedConvolution
            if attributes.groups == 1 {
                guard let linear = try IntegerKernelPlanner.kernel(for: record, columns: outputs, depth: taps * groupInputs,
                                                                   inputEncoding: inputEncoding, outputGrid: grid, layer: node.name)
                else {
                    plan.floatFallbacks.append("\(node.name): \(record.bits)-bit scales \(record.scaleShape) have no integer kernel; runs in fp32")
                    continue
                }
                kernel = .dense(linear)
            } else if groupInputs == 1, outputs % attributes.groups == 0 {
                guard record.symmetric, record.bits == 8 || record.bits == 4, record.scaleShape.count <= 1 else {
                    plan.floatFallbacks.append("\(node.name): depthwise \(record.bits)-bit \(record.symmetric ? "symmetric" : "asymmetric") weights with scales \(record.scaleShape) have no integer kernel; runs in fp32")
                    continue
                }
                let filter = try QuantizedDepthwiseFilter(
                    weight: record.values.map { Int8($0) }, scales: perChannel(record.scales, count: outputs), outputChannels: outputs,
                    kernelHeight: record.shape[1], kernelWidth: record.shape[2], multiplier: outputs / attributes.groups, name: source)
                if let input {
                    kernel = .depthwiseInteger(filter, activationScale: input.scale, zeroPoint: input.zeroPoint, outputGrid: grid)
                } else {
                    kernel = .depthwiseWeightOnly(filter)
                }
            } else {
                plan.floatFallbacks.append("\(node.name): grouped convolution (\(attributes.groups) groups) has no integer kernel; runs in fp32")
                continue
            }
            if grid != nil, kernel.fusesOutputGrid { plan.fusedOutputEncodings.insert(node.name) }
            plan.convolutions[node.name] = kernel
        }
        return plan
    }

    /// The scale and unsigned-grid zero point of an 8-bit per-tensor activation encoding.
    static func eightBitInput(_ encoding: Encoding?) -> (scale: Float, zeroPoint: Int32)? {
        guard let encoding, encoding.scheme.bits == 8, encoding.scales.count == 1, encoding.zeroPoints.count == 1 else { return nil }
        // A symmetric 8-bit grid (zero point 0) is the unsigned grid shifted by 128.
        return (encoding.scales[0], encoding.scheme.symmetry == .symmetric ? 128 : encoding.zeroPoints[0])
    }

    static func perChannel(_ scales: [Float], count: Int) -> [Float] {
        scales.count == 1 ? Array(repeating: scales[0], count: count) : scales
    }
}

extension QuantizedConvolution {
    /// True when the kernel applies an output grid itself.
    var fusesOutputGrid: Bool {
        switch self {
        case .dense(.integer), .dense(.integer16), .depthwiseInteger: return true
        case .dense(.weightOnly), .depthwiseWeightOnly: return false
        }
    }
}

import CBLAS
import ModelGraph
import QuantCore

/// Observes (and may replace) node outputs while a graph runs: calibration collects
/// statistics through it, QuantSim fake-quantizes activations through it.
public protocol ActivationTap: AnyObject {
    /// Called after `node` has produced `output`; changes to `output` flow downstream.
    func nodeDidRun(_ node: Node, output: inout Tensor)
}

/// Runs a graph in fp32 on the CPU.
public struct GraphExecutor: Sendable {
    /// The graph being executed.
    public let graph: Graph
    /// Threads used by the kernels (results do not depend on it).
    public let threads: Int
    private let lastUses: [ValueID: Int]
    /// Linear weights packed for the GEMM kernel, by node name.
    private let packedWeights: [String: PackedMatrix]
    /// Linear layers that run on the integer kernels, by node name.
    public let quantizedLinears: [String: QuantizedLinear]
    /// Convolutions that run on the integer kernels, by node name.
    public let quantizedConvolutions: [String: QuantizedConvolution]
    /// Convolution weights prepared for the kernels, by node name (or why they could not be:
    /// reported when the node runs).
    private let preparedConvolutions: [String: Result<PreparedConvolution, any Error>]

    /// Prepares `graph` for execution on `threads` threads (default: all cores). Linear
    /// nodes named in `quantizedLinears` and conv nodes named in `quantizedConvolutions` run
    /// on the integer kernels; the rest in fp32.
    public init(graph: Graph, threads: Int = ProcessInfoCores.active, quantizedLinears: [String: QuantizedLinear] = [:],
                quantizedConvolutions: [String: QuantizedConvolution] = [:]) {
        self.graph = graph
        self.threads = max(1, threads)
        self.lastUses = graph.lastUses()
        self.quantizedLinears = quantizedLinears
        self.quantizedConvolutions = quantizedConvolutions
        var packed: [String: PackedMatrix] = [:]
        for node in graph.nodes where node.op == .linear && quantizedLinears[node.name] == nil {
            if let weight = node.parameters["weight"], weight.rank == 2 {
                packed[node.name] = PackedMatrix(linearWeight: weight.scalars, columns: weight.shape[0], depth: weight.shape[1])
            }
        }
        self.packedWeights = packed
        var convolutions: [String: Result<PreparedConvolution, any Error>] = [:]
        for node in graph.nodes where quantizedConvolutions[node.name] == nil {
            if case let .conv2d(attributes) = node.op {
                convolutions[node.name] = Result { try ConvolutionOperations.prepare(node, attributes: attributes) }
            }
        }
        self.preparedConvolutions = convolutions
        aimet_blas_use_single_thread()
    }

    /// Runs the graph on named inputs and returns its outputs in order.
    public func run(inputs: [String: Tensor], tap: ActivationTap? = nil) throws -> [Tensor] {
        var values: [ValueID: Tensor] = [:]
        for input in graph.inputs {
            guard let tensor = inputs[input.name] else { throw RuntimeError.missingInput(name: input.name) }
            values[input.value] = tensor
        }
        for (index, node) in graph.nodes.enumerated() {
            var arguments: [Tensor] = []
            arguments.reserveCapacity(node.inputs.count)
            for (position, value) in node.inputs.enumerated() {
                // A value read for the last time is moved out, so in-place ops own its buffer.
                let lastRead = lastUses[value] == index && !node.inputs[(position + 1)...].contains(value)
                guard let tensor = lastRead ? values.removeValue(forKey: value) : values[value] else {
                    throw RuntimeError.shapeMismatch(node: node.name, reason: "input \(value) is not available")
                }
                arguments.append(tensor)
            }
            var output = try execute(node, &arguments)
            tap?.nodeDidRun(node, output: &output)
            values[node.output] = output
        }
        return graph.outputs.map { values[$0]! }
    }

    private func execute(_ node: Node, _ arguments: inout [Tensor]) throws -> Tensor {
        switch node.op {
        case .embedding:
            return try FloatOperations.embedding(node, indices: arguments[0])
        case .linear:
            if let quantized = quantizedLinears[node.name] {
                return try QuantizedOperations.linear(node, arguments[0], quantized: quantized, threads: threads)
            }
            guard let packed = packedWeights[node.name] else {
                throw RuntimeError.missingParameter(node: node.name, parameter: "weight")
            }
            return try FloatOperations.linear(node, arguments[0], packed: packed, threads: threads)
        case let .layerNorm(epsilon):
            var result = arguments.removeFirst()
            try FloatOperations.layerNorm(node, &result, epsilon: epsilon, threads: threads)
            return result
        case let .activation(kind):
            var result = arguments.removeFirst()
            let count = result.count
            result.scalars.withUnsafeMutableBufferPointer {
                ActivationKernels.apply(kind, to: $0.baseAddress!, count: count, threads: threads)
            }
            return result
        case .boundedReLU:
            var result = arguments.removeFirst()
            try ConvolutionOperations.boundedReLU(node, &result, threads: threads)
            return result
        case .add:
            return try FloatOperations.elementwise(node, &arguments, +)
        case .mul:
            return try FloatOperations.elementwise(node, &arguments, *)
        case let .attention(attributes):
            return try FloatOperations.attention(node, arguments, attributes: attributes, threads: threads)
        case .meanPool:
            return try FloatOperations.meanPool(node, arguments)
        case .l2Normalize:
            var result = arguments.removeFirst()
            let width = result.shape.last ?? 1
            NormalizationKernels.l2Normalize(&result.scalars, rows: result.count / max(width, 1), width: width)
            return result
        case let .conv2d(attributes):
            if let quantized = quantizedConvolutions[node.name] {
                return try QuantizedConvolutionOperations.convolution(node, arguments[0], attributes: attributes, quantized: quantized,
                                                                      threads: threads)
            }
            guard let prepared = preparedConvolutions[node.name] else {
                throw RuntimeError.missingParameter(node: node.name, parameter: "weight")
            }
            return try ConvolutionOperations.convolution(node, arguments[0], attributes: attributes, prepared: prepared.get(), threads: threads)
        case let .batchNorm(epsilon):
            var result = arguments.removeFirst()
            try ConvolutionOperations.batchNorm(node, &result, epsilon: epsilon, threads: threads)
            return result
        case let .pool2d(attributes):
            return try ConvolutionOperations.pool(node, arguments[0], attributes: attributes, threads: threads)
        case .globalAveragePool:
            return try ConvolutionOperations.globalAveragePool(node, arguments[0])
        case .flatten:
            return try ConvolutionOperations.flatten(node, arguments[0])
        case .softmax:
            var result = arguments.removeFirst()
            ConvolutionOperations.softmax(&result)
            return result
        }
    }
}

/// The number of cores the runtime uses by default (`AIMET_SWIFT_THREADS` overrides).
public enum ProcessInfoCores {
    public static var active: Int {
        if let text = getenvString("AIMET_SWIFT_THREADS"), let count = Int(text), count > 0 { return count }
        return max(1, systemCores())
    }
}

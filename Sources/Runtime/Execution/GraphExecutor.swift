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

    /// Prepares `graph` for execution on `threads` threads (default: all cores).
    public init(graph: Graph, threads: Int = ProcessInfoCores.active) {
        self.graph = graph
        self.threads = max(1, threads)
        self.lastUses = graph.lastUses()
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
            let arguments = try node.inputs.map { value -> Tensor in
                guard let tensor = values[value] else {
                    throw RuntimeError.shapeMismatch(node: node.name, reason: "input \(value) is not available")
                }
                return tensor
            }
            var output = try execute(node, arguments)
            tap?.nodeDidRun(node, output: &output)
            values[node.output] = output
            for value in node.inputs where lastUses[value] == index { values[value] = nil }
        }
        return graph.outputs.map { values[$0]! }
    }

    private func execute(_ node: Node, _ arguments: [Tensor]) throws -> Tensor {
        switch node.op {
        case .embedding:
            return try FloatOperations.embedding(node, indices: arguments[0])
        case .linear:
            return try FloatOperations.linear(node, arguments[0], threads: threads)
        case let .layerNorm(epsilon):
            return try FloatOperations.layerNorm(node, arguments[0], epsilon: epsilon, threads: threads)
        case let .activation(kind):
            var result = arguments[0]
            let count = result.count
            result.scalars.withUnsafeMutableBufferPointer {
                ActivationKernels.apply(kind, to: $0.baseAddress!, count: count, threads: threads)
            }
            return result
        case .add:
            return try FloatOperations.elementwise(node, arguments, +)
        case .mul:
            return try FloatOperations.elementwise(node, arguments, *)
        case let .attention(attributes):
            return try FloatOperations.attention(node, arguments, attributes: attributes, threads: threads)
        case .meanPool:
            return try FloatOperations.meanPool(node, arguments)
        case .l2Normalize:
            var result = arguments[0]
            let width = result.shape.last ?? 1
            NormalizationKernels.l2Normalize(&result.scalars, rows: result.count / max(width, 1), width: width)
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

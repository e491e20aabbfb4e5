import ModelGraph
import QuantCore
import Runtime

/// Fake-quantizes the outputs of the nodes that carry activation quantizers, so the graph
/// runs as the quantized model would (QuantSim). Also used by the runtime for activation
/// grids that have no integer kernel (16-bit activations, quantizers between float ops).
public final class ActivationQuantizationTap: ActivationTap, @unchecked Sendable {
    /// Encodings by node name.
    public let encodings: [String: Encoding]
    /// A tap to call after quantizing (statistics, profiling), if any.
    public let next: ActivationTap?
    /// Threads of the vectorised per-tensor path (results do not depend on it).
    public let threads: Int
    /// Per-tensor encodings as grids for the vectorised kernel, by node name.
    private let grids: [String: QuantizedOutputGrid]

    public init(encodings: [String: Encoding], next: ActivationTap? = nil, threads: Int = ProcessInfoCores.active) {
        self.encodings = encodings
        self.next = next
        self.threads = max(1, threads)
        self.grids = encodings.compactMapValues { IntegerKernelPlanner.outputGrid($0) }
    }

    public func nodeDidRun(_ node: Node, output: inout Tensor) {
        if let grid = grids[node.name] {
            // Bit for bit `Quantizer.fakeQuantize` with a per-tensor encoding, vectorised.
            let count = output.count, threads = threads
            output.scalars.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                QuantizedLinearKernel.fakeQuantize(base, count: count, grid: grid, threads: threads)
            }
        } else if let encoding = encodings[node.name] {
            let shape = output.shape
            output.scalars.withUnsafeMutableBufferPointer { buffer in
                // Encodings were validated when they were computed; a failure here would be a
                // per-tensor encoding applied to a tensor of another layout, an internal error.
                try! Quantizer.fakeQuantize(buffer, shape: shape, with: encoding, tensorName: node.name)
            }
        }
        next?.nodeDidRun(node, output: &output)
    }
}

/// Builds the QuantSim view of a model: weights replaced by their fake-quantized values.
public enum QuantizationSimulator {
    /// `graph` with every planned weight fake-quantized with its encoding.
    public static func applyingWeightEncodings(_ encodings: [String: Encoding], to graph: Graph) throws -> Graph {
        var result = graph
        for index in result.nodes.indices {
            let node = result.nodes[index]
            guard let source = node.parameterSources["weight"], let encoding = encodings[source],
                  let weight = node.parameters["weight"] else { continue }
            result.nodes[index].parameters["weight"] = try Quantizer.fakeQuantize(weight, with: encoding, tensorName: source)
        }
        return result
    }
}

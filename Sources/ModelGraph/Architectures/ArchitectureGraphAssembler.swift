import ModelIO
import QuantCore

/// Builds the graph of an ``ArchitectureDescription`` from a PyTorch state dict: checks every
/// tensor (present, shaped as the architecture implies, finite), transposes convolution
/// weights OIHW → OHWI and rejects tensors the architecture does not use.
struct ArchitectureGraphAssembler {
    /// Batch norm parameters: node parameter name and checkpoint suffix.
    static let batchNormRoles: [(node: String, checkpoint: String)] = [
        ("weight", "weight"), ("bias", "bias"), ("mean", "running_mean"), ("variance", "running_var"),
    ]

    private var loader: WeightLoader
    private var builder = GraphBuilder()
    private let epsilon: Float

    private init(store: any WeightStore, epsilon: Float) {
        self.loader = WeightLoader(store: store, prefix: "")
        self.epsilon = epsilon
    }

    static func build(_ description: ArchitectureDescription, architecture: String, store: any WeightStore) throws -> Graph {
        var assembler = ArchitectureGraphAssembler(store: store, epsilon: description.batchNormEpsilon)
        var state = assembler.builder.input(BuiltInArchitecture.inputName)
        state = try assembler.append(description.stem, input: state)
        for block in description.blocks {
            let blockInput = state
            for unit in block.units { state = try assembler.append(unit, input: state) }
            if let residual = block.residual {
                state = assembler.builder.add(residual, .add, inputs: [state, blockInput])
            }
        }
        state = try assembler.append(description.head, input: state)
        state = assembler.builder.add(description.pooling, .globalAveragePool, inputs: [state])
        state = try assembler.classifier(description.classifier, input: state, inputs: description.head.outputChannels)
        try assembler.rejectUnusedTensors(architecture: architecture)
        return try assembler.builder.finish(outputs: [state])
    }

    /// Appends a convolution, its batch norm (unless folded away) and its activation.
    private mutating func append(_ unit: ConvolutionUnit, input: ValueID) throws -> ValueID {
        let store = loader.store
        let (checkpointWeight, weightSource) = try loader.tensor(unit.convolution + ".weight", shape: unit.checkpointWeightShape)
        var parameters = ["weight": Self.channelsLast(checkpointWeight)]
        var sources = ["weight": weightSource]
        let biasName = unit.convolution + ".bias"
        let hasBias = store.info(named: biasName) != nil
        if hasBias {
            (parameters["bias"], sources["bias"]) = try loader.tensor(biasName, shape: [unit.outputChannels])
        }
        var value = builder.add(unit.convolution, .conv2d(unit.attributes), inputs: [input],
                                parameters: parameters, sources: sources)
        // A folded checkpoint has no batch norm tensors and a conv bias instead; a conv without
        // either is missing its batch norm (reported by the first tensor asked for).
        let hasBatchNorm = Self.batchNormRoles.contains { store.info(named: unit.batchNorm + "." + $0.checkpoint) != nil }
        if hasBatchNorm || !hasBias {
            var normParameters: [String: Tensor] = [:], normSources: [String: String] = [:]
            for role in Self.batchNormRoles {
                (normParameters[role.node], normSources[role.node]) =
                    try loader.tensor(unit.batchNorm + "." + role.checkpoint, shape: [unit.outputChannels])
            }
            value = builder.add(unit.batchNorm, .batchNorm(epsilon: epsilon), inputs: [value],
                                parameters: normParameters, sources: normSources)
        }
        if let activation = unit.activation {
            value = builder.add(activation, .activation(.relu6), inputs: [value])
        }
        return value
    }

    /// The classifier; its class count comes from the checkpoint.
    private mutating func classifier(_ name: String, input: ValueID, inputs: Int) throws -> ValueID {
        let stored = loader.store.info(named: name + ".weight")?.shape ?? []
        let classes = stored.count == 2 && stored[0] > 0 ? stored[0] : 1000
        let weights = try loader.weightAndBias(name, weightShape: [classes, inputs], biasShape: [classes])
        return builder.add(name, .linear, inputs: [input], parameters: weights.parameters, sources: weights.sources)
    }

    /// Every tensor the graph did not take is an error, except batch norm step counters.
    private func rejectUnusedTensors(architecture: String) throws {
        for info in loader.store.tensors where !loader.used.contains(info.name) {
            if info.name.hasSuffix(".num_batches_tracked") { continue }
            throw ModelGraphError.unexpectedWeight(path: loader.store.path, tensor: info.name,
                                                   reason: "is not part of the \(architecture) architecture")
        }
    }

    /// A PyTorch convolution weight `[out, in, kh, kw]` as `[out, kh, kw, in]`.
    static func channelsLast(_ weight: Tensor) -> Tensor {
        let outputs = weight.shape[0], inputs = weight.shape[1], height = weight.shape[2], width = weight.shape[3]
        var result = [Float](repeating: 0, count: weight.count)
        weight.scalars.withUnsafeBufferPointer { source in
            for output in 0..<outputs {
                for input in 0..<inputs {
                    for row in 0..<height {
                        for column in 0..<width {
                            result[((output * height + row) * width + column) * inputs + input] =
                                source[((output * inputs + input) * height + row) * width + column]
                        }
                    }
                }
            }
        }
        return Tensor(shape: [outputs, height, width, inputs], scalars: result)
    }
}

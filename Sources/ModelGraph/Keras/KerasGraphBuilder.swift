import ModelIO
import QuantCore

/// Turns a Keras model config plus its HDF5 weights into a graph. Layers are visited in
/// dependency order (config order among the ready ones); each Keras layer's output is a
/// value with a known per-sample shape (`[height, width, channels]` or `[features]`).
struct KerasGraphBuilder {
    struct Output {
        var graph: Graph
        var inputName: String
        var inputShape: [Int]
        var notes: [String]
    }

    /// A Keras layer's output: the graph value and its shape without the batch axis.
    struct LayerValue {
        var value: ValueID
        var shape: [Int]
    }

    let path: String
    let store: HDF5Store
    let weightNames: [String: [String]]
    var builder = GraphBuilder()
    var values: [String: LayerValue] = [:]
    var notes: [String] = []
    /// Layers split into several nodes, by class (for one summary note).
    var splitLayers: [String: Int] = [:]

    init(store: HDF5Store, weightNames: [String: [String]]) {
        self.path = store.path
        self.store = store
        self.weightNames = weightNames
    }

    mutating func build(_ model: KerasModelConfiguration) throws -> Output {
        guard model.inputLayers.count == 1, let inputName = model.inputLayers.first else {
            throw ModelGraphError.unsupportedLayer(
                path: path, layer: model.inputLayers.joined(separator: ", "), reason: "models with \(model.inputLayers.count) inputs are not supported (one input)")
        }
        var pending = model.layers
        var inputShape: [Int] = []
        while !pending.isEmpty {
            guard let index = pending.firstIndex(where: { layer in layer.inbound.allSatisfy { values[$0] != nil } }) else {
                let stuck = pending[0]
                let missing = stuck.inbound.first { values[$0] == nil } ?? "?"
                throw ModelGraphError.invalidConfig(
                    path: path, field: "\(stuck.name).inbound_nodes", reason: "reads '\(missing)', which is not a layer of the model or forms a cycle")
            }
            let layer = pending.remove(at: index)
            let fields = KerasLayerFields(layer: layer, path: path)
            if layer.className == "InputLayer" {
                guard layer.name == inputName else {
                    throw fields.unsupported("a second input layer is not supported (the model input is '\(inputName)')")
                }
                inputShape = try Self.inputShape(fields)
                values[layer.name] = LayerValue(value: builder.input(layer.name), shape: inputShape)
                continue
            }
            guard !layer.inbound.isEmpty else {
                throw ModelGraphError.invalidConfig(path: path, field: "\(layer.name).inbound_nodes", reason: "a \(layer.className) layer without inputs")
            }
            var weights = try KerasLayerWeights(fields: fields, names: weightNames[layer.name] ?? [], store: store)
            values[layer.name] = try convert(fields, inputs: layer.inbound.map { values[$0]! }, weights: &weights)
            try weights.finish()
        }
        let layerNames = Set(model.layers.map(\.name))
        for name in weightNames.keys.sorted() where !layerNames.contains(name) && !(weightNames[name] ?? []).isEmpty {
            throw ModelGraphError.unexpectedWeight(path: path, tensor: weightNames[name]![0], reason: "layer '\(name)' of the weights is not in model_config")
        }
        for (className, count) in splitLayers.sorted(by: { $0.key < $1.key }) {
            let parts = className == "SeparableConv2D" ? "'.depthwise' and '.pointwise'" : "'.partial<i>' sums and a final"
            notes.append("\(count) \(className) layer(s) split into \(parts) node(s)")
        }
        let graph = try builder.finish(outputs: model.outputLayers.map { values[$0]!.value })
        return Output(graph: graph, inputName: inputName, inputShape: inputShape, notes: notes)
    }

    /// `batch_input_shape` (Keras 2) or `batch_shape` (Keras 3) without the batch axis:
    /// `[height, width, channels]` or `[features]`, every size known.
    private static func inputShape(_ fields: KerasLayerFields) throws -> [Int] {
        let key = fields.isMissing("batch_input_shape") ? "batch_shape" : "batch_input_shape"
        guard let entries = fields.config[key]?.arrayValue, entries.count >= 2 else {
            throw fields.invalid(key, "missing or not a list [batch, ...]")
        }
        let sizes = entries.dropFirst().map(\.intValue)
        guard sizes.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw fields.unsupported("input shape \(entries.dropFirst().map { $0.intValue.map(String.init) ?? "None" }) has unknown sizes (fixed sizes are needed)")
        }
        guard sizes.count == 3 || sizes.count == 1 else {
            throw fields.unsupported("inputs of rank \(sizes.count + 1) are not supported ([batch, height, width, channels] or [batch, features])")
        }
        if let dtype = fields.config["dtype"]?.stringValue, dtype != "float32" {
            throw fields.unsupported("input dtype '\(dtype)' is not supported (float32)")
        }
        return sizes.map { $0! }
    }

    // MARK: - Node helpers

    /// Adds a node and returns its value with `shape`.
    mutating func add(_ name: String, _ op: Op, inputs: [LayerValue], shape: [Int],
                      parameters: [String: Tensor] = [:], sources: [String: String] = [:]) -> LayerValue {
        LayerValue(value: builder.add(name, op, inputs: inputs.map(\.value), parameters: parameters, sources: sources), shape: shape)
    }

    /// Appends the layer's `activation` attribute as a node `<layer>.activation` (nothing
    /// for `linear`).
    mutating func applyActivation(_ fields: KerasLayerFields, to value: LayerValue) throws -> LayerValue {
        guard let op = try fields.activationOp(try fields.activationName()) else { return value }
        return add("\(fields.name).activation", op, inputs: [value], shape: value.shape)
    }

    /// The input as `[height, width, channels]`, or an error naming the layer.
    func spatial(_ fields: KerasLayerFields, _ input: LayerValue) throws -> (height: Int, width: Int, channels: Int) {
        guard input.shape.count == 3 else {
            throw fields.unsupported("\(fields.layer.className) needs a [height, width, channels] input, got \(input.shape)")
        }
        return (input.shape[0], input.shape[1], input.shape[2])
    }

    /// Output size of `window` on `input`, or an error naming the layer.
    func placement(_ fields: KerasLayerFields, _ window: Window2D, _ input: (height: Int, width: Int, channels: Int)) throws -> Window2D.Placement {
        guard let placement = window.placement(inputHeight: input.height, inputWidth: input.width) else {
            throw fields.unsupported("a \(window.height)×\(window.width) window (stride \(window.strideHeight)×\(window.strideWidth)) does not fit its \(input.height)×\(input.width) input")
        }
        return placement
    }
}

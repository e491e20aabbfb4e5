import ModelIO

/// One layer of a Keras model config: its name, class, settings and the layers feeding it.
struct KerasLayerSpecification: Sendable {
    var name: String
    var className: String
    /// The layer's `config` object.
    var config: JSONValue
    /// The layers whose (single) outputs this layer reads, in argument order.
    var inbound: [String]
}

/// The layer graph of a Keras `model_config`: a Sequential model (a chain) or a Functional
/// model (`Model` / `Functional`, layers with `inbound_nodes`), both in the Keras 2 form;
/// the Keras 3 `keras_history` form of `inbound_nodes` is read too.
struct KerasModelConfiguration: Sendable {
    var modelClass: String
    var modelName: String
    /// Layers in config order; a Sequential model without an `InputLayer` gets one,
    /// named `<first layer>_input` as Keras names it.
    var layers: [KerasLayerSpecification]
    var inputLayers: [String]
    var outputLayers: [String]

    /// The model classes this reader understands.
    static let functionalClasses: Set<String> = ["Model", "Functional"]

    init(json: JSONValue, path: String) throws {
        guard let modelClass = json["class_name"]?.stringValue else {
            throw ModelGraphError.invalidConfig(path: path, field: "model_config.class_name", reason: "missing")
        }
        self.modelClass = modelClass
        let config = json["config"]
        modelName = config?["name"]?.stringValue ?? modelClass.lowercased()
        if modelClass == "Sequential" {
            guard let layerList = config?.arrayValue ?? config?["layers"]?.arrayValue else {
                throw ModelGraphError.invalidConfig(path: path, field: "model_config.config.layers", reason: "Sequential model without a layer list")
            }
            let raw = try layerList.enumerated().map { try Self.layer($1, position: $0, path: path) }
            guard let first = raw.first else {
                throw ModelGraphError.invalidConfig(path: path, field: "model_config.config.layers", reason: "empty")
            }
            var layers: [KerasLayerSpecification] = []
            if first.className != "InputLayer" {
                guard let shape = first.config["batch_input_shape"] ?? first.config["batch_shape"] else {
                    throw ModelGraphError.invalidConfig(
                        path: path, field: "\(first.name).batch_input_shape", reason: "the first layer of a Sequential model has no input shape")
                }
                let inputName = "\(first.name)_input"
                layers.append(KerasLayerSpecification(
                    name: inputName, className: "InputLayer",
                    config: .object(JSONObject([("name", .string(inputName)), ("batch_input_shape", shape)])), inbound: []))
            }
            for var layer in raw {
                if let previous = layers.last { layer.inbound = [previous.name] }
                layers.append(layer)
            }
            self.layers = layers
            inputLayers = [layers[0].name]
            outputLayers = [layers[layers.count - 1].name]
        } else if Self.functionalClasses.contains(modelClass) {
            guard let layerList = config?["layers"]?.arrayValue else {
                throw ModelGraphError.invalidConfig(path: path, field: "model_config.config.layers", reason: "Functional model without a layer list")
            }
            var layers: [KerasLayerSpecification] = []
            for (position, entry) in layerList.enumerated() {
                var layer = try Self.layer(entry, position: position, path: path)
                layer.inbound = try Self.inbound(entry["inbound_nodes"], layer: layer.name, path: path)
                layers.append(layer)
            }
            self.layers = layers
            inputLayers = try Self.endpoints(config?["input_layers"], field: "input_layers", path: path)
            outputLayers = try Self.endpoints(config?["output_layers"], field: "output_layers", path: path)
        } else {
            throw ModelGraphError.unsupportedModelType(path: path, modelType: modelClass, supported: ["Sequential", "Model", "Functional"])
        }
        var names = Set<String>()
        for layer in layers where !names.insert(layer.name).inserted {
            throw ModelGraphError.invalidConfig(path: path, field: "model_config.config.layers", reason: "layer name '\(layer.name)' appears twice")
        }
        for name in inputLayers + outputLayers where !names.contains(name) {
            throw ModelGraphError.invalidConfig(path: path, field: "model_config.config", reason: "input/output layer '\(name)' is not a layer of the model")
        }
    }

    private static func layer(_ entry: JSONValue, position: Int, path: String) throws -> KerasLayerSpecification {
        guard let className = entry["class_name"]?.stringValue else {
            throw ModelGraphError.invalidConfig(path: path, field: "model_config.config.layers[\(position)].class_name", reason: "missing")
        }
        guard let config = entry["config"], config.objectValue != nil else {
            throw ModelGraphError.invalidConfig(path: path, field: "model_config.config.layers[\(position)].config", reason: "missing or not an object")
        }
        guard let name = entry["name"]?.stringValue ?? config["name"]?.stringValue, !name.isEmpty else {
            throw ModelGraphError.invalidConfig(path: path, field: "model_config.config.layers[\(position)].name", reason: "missing")
        }
        return KerasLayerSpecification(name: name, className: className, config: config, inbound: [])
    }

    /// The inbound layer names of a Functional layer. Only layers called once (one inbound
    /// node) reading the first output of each producer are supported.
    private static func inbound(_ nodes: JSONValue?, layer: String, path: String) throws -> [String] {
        let nodeList = nodes?.arrayValue ?? []
        guard nodeList.count <= 1 else {
            throw ModelGraphError.unsupportedLayer(path: path, layer: layer, reason: "the layer is shared (called \(nodeList.count) times)")
        }
        guard let node = nodeList.first else { return [] }
        var references: [[JSONValue]] = []
        if let entries = node.arrayValue {
            // Keras 2: [[name, node index, tensor index, kwargs], ...]
            for entry in entries {
                guard let reference = entry.arrayValue, reference.first?.stringValue != nil else {
                    throw ModelGraphError.invalidConfig(path: path, field: "\(layer).inbound_nodes", reason: "an entry is not [layer, node, tensor, kwargs]")
                }
                references.append(reference)
            }
        } else {
            // Keras 3: {"args": [...], "kwargs": {...}} with {"keras_history": [name, node, tensor]} leaves.
            collectHistories(node, into: &references)
        }
        return try references.map { reference in
            let name = reference[0].stringValue!
            let nodeIndex = reference.count > 1 ? reference[1].intValue ?? 0 : 0
            let tensorIndex = reference.count > 2 ? reference[2].intValue ?? 0 : 0
            guard nodeIndex == 0, tensorIndex == 0 else {
                throw ModelGraphError.unsupportedLayer(
                    path: path, layer: layer, reason: "reads output \(tensorIndex) of call \(nodeIndex) of '\(name)' (only single-call, single-output layers are supported)")
            }
            return name
        }
    }

    private static func collectHistories(_ value: JSONValue, into references: inout [[JSONValue]]) {
        switch value {
        case let .object(object):
            for (key, member) in object.entries {
                if key == "keras_history", let history = member.arrayValue, history.first?.stringValue != nil {
                    references.append(history)
                } else {
                    collectHistories(member, into: &references)
                }
            }
        case let .array(elements):
            for element in elements { collectHistories(element, into: &references) }
        default:
            break
        }
    }

    /// `[["input_1", 0, 0], ...]` (or a single `["input_1", 0, 0]`) → layer names.
    private static func endpoints(_ value: JSONValue?, field: String, path: String) throws -> [String] {
        guard let list = value?.arrayValue, !list.isEmpty else {
            throw ModelGraphError.invalidConfig(path: path, field: "model_config.config.\(field)", reason: "missing or empty")
        }
        let entries = list.first?.stringValue != nil ? [value!] : list
        return try entries.map { entry in
            guard let name = entry.arrayValue?.first?.stringValue else {
                throw ModelGraphError.invalidConfig(path: path, field: "model_config.config.\(field)", reason: "an entry is not [layer, node, tensor]")
            }
            if let tensorIndex = entry.arrayValue?.dropFirst(2).first?.intValue, tensorIndex != 0 {
                throw ModelGraphError.unsupportedLayer(path: path, layer: name, reason: "output \(tensorIndex) is used (only single-output layers are supported)")
            }
            return name
        }
    }
}

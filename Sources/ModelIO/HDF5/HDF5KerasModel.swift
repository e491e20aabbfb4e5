import CHDF5
import QuantCore

/// Reads the Keras 2 full-model layout: `model_config` JSON on the root, weights under
/// `model_weights/<layer>/<weight name>` listed by the `layer_names` and `weight_names`
/// attributes. Every function here expects the HDF5 lock to be held.
enum HDF5KerasModel {
    struct Contents {
        var tensors: [(info: TensorInfo, dataset: String)]
        var metadata: JSONObject
        var modelConfig: JSONValue
    }

    static func read(file: hid_t, root: hid_t, path: String) throws -> Contents {
        guard let configText = try HDF5Library.readStringAttribute(root, "model_config", path: path, objectName: ""),
              configText.values.count == 1, let text = configText.values.first else {
            throw ModelIOError.invalidHeader(path: path, reason: "root attribute 'model_config' is not one string")
        }
        let modelConfig = try JSONParser.parse(text, path: path)
        let weightsGroup = try HDF5Library.check(
            H5Gopen2(root, "model_weights", aimet_H5P_DEFAULT), path: path, object: "model_weights", operation: "H5Gopen2")
        defer { H5Gclose(weightsGroup) }
        let tensors = try listWeights(weightsGroup: weightsGroup, file: file, path: path)

        var metadata = JSONObject()
        for key in ["keras_version", "backend"] {
            let owner = HDF5Library.hasAttribute(root, key) ? root : weightsGroup
            if HDF5Library.hasAttribute(owner, key),
               let attribute = try HDF5Library.readStringAttribute(owner, key, path: path, objectName: ""),
               let value = attribute.values.first {
                metadata[key] = .string(value)
            } else {
                metadata[key] = .null
            }
        }
        guard let modelClass = modelConfig["class_name"]?.stringValue else {
            throw ModelIOError.invalidHeader(path: path, reason: "model_config has no 'class_name'")
        }
        metadata["model_class"] = .string(modelClass)
        let layers = try layerSummaries(modelConfig: modelConfig, modelClass: modelClass, path: path)
        metadata["layers"] = .array(layers)
        metadata["layer_count"] = .integer(layers.count)
        return Contents(tensors: tensors, metadata: metadata, modelConfig: modelConfig)
    }

    /// The weights in `layer_names` order, then `weight_names` order.
    private static func listWeights(weightsGroup: hid_t, file: hid_t, path: String) throws -> [(info: TensorInfo, dataset: String)] {
        var tensors: [(info: TensorInfo, dataset: String)] = []
        var seen = Set<String>()
        try forEachLayer(weightsGroup: weightsGroup, path: path) { layer, layerPath, group, weightNames in
            for weight in weightNames {
                let dataset = "\(layerPath)/\(weight)"
                guard aimet_object_type(group, weight) == Int32(AIMET_OBJECT_DATASET) else {
                    throw ModelIOError.invalidHeader(path: path, reason: "layer '\(layer)' lists weight '\(weight)' but '\(dataset)' is not a dataset")
                }
                guard seen.insert(weight).inserted else {
                    throw ModelIOError.invalidHeader(path: path, reason: "weight name '\(weight)' appears twice")
                }
                let info = try HDF5Dataset.describe(file: file, location: dataset, name: weight, path: path)
                tensors.append((info, dataset))
            }
        }
        return tensors
    }

    /// `{"name", "class_name", "inbound"}` for every layer of a Sequential or Functional
    /// config. Sequential layers take the previous layer as their input.
    static func layerSummaries(modelConfig: JSONValue, modelClass: String, path: String) throws -> [JSONValue] {
        let config = modelConfig["config"]
        guard let layers = config?.arrayValue ?? config?["layers"]?.arrayValue else {
            throw ModelIOError.invalidHeader(path: path, reason: "model_config of class '\(modelClass)' has no layer list")
        }
        let isSequential = modelClass == "Sequential"
        var summaries: [JSONValue] = []
        var previous: String?
        for (position, layer) in layers.enumerated() {
            guard let name = layer["name"]?.stringValue ?? layer["config"]?["name"]?.stringValue else {
                throw ModelIOError.invalidHeader(path: path, reason: "layer #\(position) of model_config has no name")
            }
            let className = layer["class_name"]?.stringValue ?? ""
            let inbound: [String]
            if isSequential {
                inbound = previous.map { [$0] } ?? []
            } else {
                inbound = inboundLayerNames(layer["inbound_nodes"])
            }
            summaries.append(.object(JSONObject([
                ("name", .string(name)),
                ("class_name", .string(className)),
                ("inbound", .array(inbound.map { .string($0) })),
            ])))
            previous = name
        }
        return summaries
    }

    /// Names of the layers feeding a Functional layer, first appearance first. Handles the
    /// Keras 2 form (`[[["conv2d_1", 0, 0, {}], ...], ...]`) and the Keras 3 form
    /// (`{"args": [{"config": {"keras_history": ["conv2d_1", 0, 0]}}]}`).
    static func inboundLayerNames(_ nodes: JSONValue?) -> [String] {
        var names: [String] = []
        func add(_ name: String) {
            if !names.contains(name) { names.append(name) }
        }
        func searchHistory(_ value: JSONValue) {
            switch value {
            case let .object(object):
                for (key, member) in object.entries {
                    if key == "keras_history", let name = member.arrayValue?.first?.stringValue {
                        add(name)
                    } else {
                        searchHistory(member)
                    }
                }
            case let .array(elements):
                elements.forEach(searchHistory)
            default:
                break
            }
        }
        for node in nodes?.arrayValue ?? [] {
            if let entries = node.arrayValue {
                for entry in entries {
                    if let name = entry.arrayValue?.first?.stringValue { add(name) } else { searchHistory(entry) }
                }
            } else {
                searchHistory(node)
            }
        }
        return names
    }
}

extension HDF5KerasModel {
    /// Every layer group's `weight_names` in `layer_names` order (layers without weights
    /// included, with an empty list). Expects the HDF5 lock to be held.
    static func layerWeightNames(root: hid_t, path: String) throws -> [(layer: String, weights: [String])] {
        let weightsGroup = try HDF5Library.check(
            H5Gopen2(root, "model_weights", aimet_H5P_DEFAULT), path: path, object: "model_weights", operation: "H5Gopen2")
        defer { H5Gclose(weightsGroup) }
        var result: [(layer: String, weights: [String])] = []
        try forEachLayer(weightsGroup: weightsGroup, path: path) { layer, _, _, weights in result.append((layer, weights)) }
        return result
    }

    /// Walks the layer groups of `model_weights` in `layer_names` order, handing `body` each
    /// layer's name, path, open group and `weight_names` (empty when the attribute is absent).
    /// Expects the HDF5 lock to be held.
    static func forEachLayer(weightsGroup: hid_t, path: String,
                             _ body: (_ layer: String, _ layerPath: String, _ group: hid_t, _ weights: [String]) throws -> Void) throws {
        guard HDF5Library.hasAttribute(weightsGroup, "layer_names"),
              let layerNames = try HDF5Library.readStringAttribute(weightsGroup, "layer_names", path: path, objectName: "model_weights") else {
            throw ModelIOError.invalidHeader(path: path, reason: "group 'model_weights' has no string attribute 'layer_names'")
        }
        for layer in layerNames.values {
            let layerPath = "model_weights/\(layer)"
            guard aimet_object_type(weightsGroup, layer) == Int32(AIMET_OBJECT_GROUP) else {
                throw ModelIOError.invalidHeader(path: path, reason: "layer '\(layer)' is listed in layer_names but '\(layerPath)' is not a group")
            }
            let group = try HDF5Library.check(H5Gopen2(weightsGroup, layer, aimet_H5P_DEFAULT), path: path, object: layerPath, operation: "H5Gopen2")
            defer { H5Gclose(group) }
            var weights: [String] = []
            if HDF5Library.hasAttribute(group, "weight_names") {
                guard let attribute = try HDF5Library.readStringAttribute(group, "weight_names", path: path, objectName: layerPath) else {
                    throw ModelIOError.invalidHeader(path: path, reason: "attribute 'weight_names' of '\(layerPath)' is not a list of strings")
                }
                weights = attribute.values
            }
            try body(layer, layerPath, group, weights)
        }
    }
}

extension HDF5Store {
    /// For a Keras 2 full-model file: each layer's weight (tensor) names, by layer name, as
    /// the layer groups' `weight_names` attributes list them (e.g. `conv2d_1` →
    /// `["conv2d_1_1/kernel:0"]`; the tensor names need not start with the layer name).
    /// Layers without weights map to an empty list. Throws `unsupportedFormat` for other
    /// layouts. Reads the file's attributes again; tensors are read with `floatTensor(named:)`.
    public func kerasLayerWeightNames() throws -> [String: [String]] {
        guard format == .kerasModelHDF5 else {
            throw ModelIOError.unsupportedFormat(path: path, reason: "not a Keras 2 full-model HDF5 file (no model_config / model_weights)")
        }
        let path = self.path
        let listing: [(layer: String, weights: [String])] = try HDF5Library.withLock {
            let file = H5Fopen(path, aimet_H5F_ACC_RDONLY(), aimet_H5P_DEFAULT)
            guard file >= 0 else { throw HDF5Library.failure(path: path, object: "/", operation: "H5Fopen") }
            defer { H5Fclose(file) }
            let root = try HDF5Library.check(H5Gopen2(file, "/", aimet_H5P_DEFAULT), path: path, object: "/", operation: "H5Gopen2")
            defer { H5Gclose(root) }
            return try HDF5KerasModel.layerWeightNames(root: root, path: path)
        }
        var byLayer: [String: [String]] = [:]
        for entry in listing { byLayer[entry.layer, default: []].append(contentsOf: entry.weights) }
        return byLayer
    }
}

import ModelIO

/// A Keras 2 full-model HDF5 file (`model.save("x.h5")`) turned into a graph, built
/// generically from its `model_config`: Sequential or Functional models made of
/// `InputLayer`, `Conv2D`, `SeparableConv2D`, `DepthwiseConv2D`, `BatchNormalization`
/// (last axis), `Activation`, `ReLU`, `Softmax`, `MaxPooling2D`, `AveragePooling2D`, `Add`,
/// `GlobalAveragePooling2D`, `Flatten`, `Dense` and `Dropout`, channels-last.
///
/// The graph's one input is named after the Keras input layer and takes
/// `[batch] + inputShape` (NHWC for images). Nodes are named after the Keras layers; a
/// layer that becomes several nodes adds a suffix (`separable_conv2d_1.depthwise` /
/// `.pointwise`, `conv2d_1.activation` for a layer's `activation` attribute). Identity
/// layers (`Dropout`, linear `Activation`) produce no node. Each node's
/// `parameterSources` name the HDF5 weights (e.g. `conv2d_1_1/kernel:0`), the tensor names
/// `HDF5Store` lists. Kernels are transposed into the IR's layouts (HWIO → OHWI, depthwise
/// `[kh, kw, in, m]` → `[in·m, kh, kw, 1]` with `in` groups, Dense `[in, out]` → `[out, in]`).
///
/// Anything else (another layer class, `channels_first`, an unsupported activation,
/// shared layers, several inputs) is a `ModelGraphError` naming the file and the layer.
public struct KerasModel: Sendable {
    /// The HDF5 file the model was read from.
    public let path: String
    /// `Sequential`, `Model` or `Functional`.
    public let modelClass: String
    /// The model's name in its config (`model_1`).
    public let modelName: String
    public let graph: Graph
    /// The graph input's name (the Keras input layer's).
    public let inputName: String
    /// One sample's shape, without the batch axis: `[height, width, channels]` or `[features]`.
    public let inputShape: [Int]
    /// Names of the Keras output layers, one per graph output.
    public let outputLayers: [String]
    /// What the conversion did that a reader should know (identity layers dropped, layers
    /// split into several nodes, the Keras version).
    public let notes: [String]

    /// The Keras layer classes the front end converts.
    public static var supportedLayerClasses: [String] { KerasGraphBuilder.supportedLayerClasses }

    /// Opens the Keras 2 full-model HDF5 file at `path` and builds its graph.
    public static func load(path: String) throws -> KerasModel {
        try KerasModel(store: HDF5Store(path: path))
    }

    /// Builds the graph of an opened Keras 2 full-model HDF5 file.
    public init(store: HDF5Store) throws {
        guard store.format == .kerasModelHDF5, let json = store.modelConfig else {
            throw ModelGraphError.invalidConfig(
                path: store.path, field: "model_config", reason: "not a Keras 2 full-model HDF5 file (root attribute 'model_config' and group 'model_weights' are needed)")
        }
        try self.init(store: store, modelConfig: json)
    }

    /// Builds the graph from `modelConfig` in place of the file's own (tests vary it).
    init(store: HDF5Store, modelConfig json: JSONValue) throws {
        let configuration = try KerasModelConfiguration(json: json, path: store.path)
        var builder = KerasGraphBuilder(store: store, weightNames: try store.kerasLayerWeightNames())
        let output = try builder.build(configuration)
        path = store.path
        modelClass = configuration.modelClass
        modelName = configuration.modelName
        graph = output.graph
        inputName = output.inputName
        inputShape = output.inputShape
        outputLayers = configuration.outputLayers
        let version = store.metadata["keras_version"]?.stringValue.map { "Keras \($0)" } ?? "Keras (version not recorded)"
        let backend = store.metadata["backend"]?.stringValue.map { ", \($0) backend" } ?? ""
        notes = ["\(version)\(backend): \(configuration.modelClass) model '\(configuration.modelName)', \(configuration.layers.count) layers → \(output.graph.nodes.count) nodes, input '\(output.inputName)' \(output.inputShape)"]
            + output.notes
    }

    /// The graph input's full shape for `batch` samples.
    public func inputShape(batch: Int) -> [Int] {
        [batch] + inputShape
    }

    /// The node whose output feeds the final softmax of output `index` (the logits), or nil
    /// when that output is not a softmax.
    public func logitsNode(output index: Int = 0) -> Node? {
        guard graph.outputs.indices.contains(index), let last = graph.producer(of: graph.outputs[index]),
              last.op == .softmax, let input = last.inputs.first else { return nil }
        return graph.producer(of: input)
    }
}

import Foundation
import ModelGraph
import ModelIO
import QuantCore
import Runtime

/// An image classifier ready to run: its graph, the name of its image input, and how images
/// are turned into that input. Loaded from a PyTorch / safetensors state dict with a built-in
/// architecture, a Keras HDF5 file (structure from its `model_config`), or a folder that
/// holds `graph.json` beside its weights (what `export` writes for classifiers).
public struct ImageClassifier: Sendable {
    /// The file or folder the model came from.
    public let path: String
    /// The file whose sha256 identifies the source weights.
    public let weightsPath: String
    public let graph: Graph
    public let inputName: String
    /// How images become the input tensor (by name, see `ImageClassifier.preprocessing(named:)`).
    public let preprocessingName: String
    public let preprocessing: ImagePreprocessing
    /// What the front end wants a reader to know (dropped layers, a removed final softmax).
    public let notes: [String]

    /// What a classifier folder records beside `graph.json`.
    struct Description: Codable {
        var input: String
        var preprocessing: String
        var source: String
    }

    /// The file name of the classifier description inside a model folder.
    public static let descriptionFileName = "classifier.json"

    /// The preprocessing recipes by name.
    public static func preprocessing(named name: String) throws -> ImagePreprocessing {
        switch name {
        case "imagenet": return .imageNet
        case "efficientnet_lite0": return .efficientNetLite0
        case "fer": return .fer
        default:
            throw QuantizationPipelineError.invalidModel(path: name, reason: "unknown preprocessing (known: imagenet, efficientnet_lite0, fer)")
        }
    }

    /// Loads the classifier at `path`; `architecture` names the built-in architecture of a
    /// bare state dict (`mobilenet_v2`, `efficientnet_lite0`) and must be nil otherwise.
    public static func load(path: String, architecture: String?) throws -> ImageClassifier {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw QuantizationPipelineError.invalidModel(path: path, reason: "no such file or folder")
        }
        if isFolder.boolValue {
            guard architecture == nil else {
                throw QuantizationPipelineError.invalidModel(path: path, reason: "--arch applies to a state dict file, not to a model folder")
            }
            return try loadFolder(path)
        }
        if let architecture {
            let builtIn = try BuiltInArchitecture(name: architecture)
            let graph = try builtIn.loadGraph(path: path)
            let name = builtIn == .efficientNetLite0 ? "efficientnet_lite0" : "imagenet"
            return ImageClassifier(path: path, weightsPath: path, graph: graph, inputName: BuiltInArchitecture.inputName,
                                   preprocessingName: name, preprocessing: try preprocessing(named: name),
                                   notes: ["\(builtIn.rawValue) from \(URL(fileURLWithPath: path).lastPathComponent)"])
        }
        let lowercased = path.lowercased()
        guard lowercased.hasSuffix(".hdf5") || lowercased.hasSuffix(".h5") else {
            throw QuantizationPipelineError.invalidModel(
                path: path, reason: "a state dict needs --arch (\(BuiltInArchitecture.names.joined(separator: ", "))); Keras models are .hdf5/.h5 files")
        }
        let keras = try KerasModel.load(path: path)
        guard keras.inputShape.count == 3, keras.inputShape[2] == 1 else {
            throw QuantizationPipelineError.invalidModel(
                path: path, reason: "input shape \(keras.inputShape): only grey-image Keras classifiers (the fer preprocessing) are supported")
        }
        let (graph, removed) = withoutFinalSoftmax(keras.graph)
        return ImageClassifier(path: path, weightsPath: path, graph: graph, inputName: keras.inputName, preprocessingName: "fer",
                               preprocessing: .fer, notes: keras.notes + removed)
    }

    /// A folder written by `export`: `graph.json`, `classifier.json` and weights.
    static func loadFolder(_ folder: String) throws -> ImageClassifier {
        let description = try ClassifierFiles.readDescription(folder: folder)
        let store = try WeightStores.open(folder)
        return ImageClassifier(path: folder, weightsPath: WeightStores.weightsPath(ofFolder: folder),
                               graph: try description.graph.graph(weights: store), inputName: description.classifier.input,
                               preprocessingName: description.classifier.preprocessing,
                               preprocessing: try preprocessing(named: description.classifier.preprocessing),
                               notes: ["classifier exported from \(description.classifier.source)"])
    }

    /// `graph` without a final softmax (agreement and KL are measured on logits).
    static func withoutFinalSoftmax(_ graph: Graph) -> (Graph, [String]) {
        guard graph.outputs.count == 1, let last = graph.nodes.last, last.op == .softmax, last.output == graph.outputs[0] else {
            return (graph, [])
        }
        var result = graph
        result.nodes.removeLast()
        result.outputs = last.inputs
        return (result, ["final softmax '\(last.name)' removed: the classifier is evaluated on its logits"])
    }

    /// Decodes nothing: turns already-decoded named images into named inputs, each augmented
    /// view in `set` one `[1, H, W, C]` tensor.
    public func inputs(for set: ImageSet, images: [String: DecodedImage]) throws -> [NamedTensor] {
        try set.tensors(images: images, preprocessing: preprocessing)
    }

    /// Graph feeds for named inputs.
    public func feeds(_ inputs: [NamedTensor]) -> [[String: Tensor]] {
        inputs.map { [inputName: $0.tensor] }
    }
}

import ModelIO

/// A Hugging Face model folder turned into a graph: `config.json` + weights (+ pooling).
public struct HuggingFaceModel: Sendable {
    /// The `model_type` values the front end understands.
    public static let supportedModelTypes = ["bert"]

    public let folder: ModelFolder
    public let configuration: BertConfiguration
    public let pooling: SentencePooling
    public let graph: Graph

    /// Loads the folder at `path`: reads `config.json`, opens the weights
    /// (`model.safetensors` or a sharded index) and builds the graph.
    public init(path: String) throws {
        let folder = try ModelFolder(path: path)
        guard folder.contains("config.json") else {
            throw ModelGraphError.missingFile(path: folder.filePath("config.json"))
        }
        let json = try folder.json("config.json")
        let configPath = folder.filePath("config.json")
        guard let modelType = json["model_type"]?.stringValue else {
            throw ModelGraphError.invalidConfig(path: configPath, field: "model_type", reason: "missing")
        }
        guard HuggingFaceModel.supportedModelTypes.contains(modelType) else {
            throw ModelGraphError.unsupportedModelType(
                path: configPath, modelType: modelType, supported: HuggingFaceModel.supportedModelTypes)
        }
        let configuration = try BertConfiguration(json: json, path: configPath)
        let pooling = try SentencePooling(folder: folder)
        let store = try WeightStores.open(path)
        self.folder = folder
        self.configuration = configuration
        self.pooling = pooling
        self.graph = try BertGraphBuilder.build(configuration: configuration, pooling: pooling, store: store)
    }
}

import ModelIO

/// How token states become one sentence vector (sentence-transformers `Pooling` and
/// `Normalize` modules).
public struct SentencePooling: Sendable, Equatable {
    /// Pooling strategies the runtime implements.
    public enum Mode: String, Sendable {
        /// Mean over the non-padding tokens.
        case mean
    }

    public var mode: Mode
    /// Divide the pooled vector by its L2 norm.
    public var normalize: Bool

    public init(mode: Mode, normalize: Bool) {
        self.mode = mode
        self.normalize = normalize
    }

    /// Reads `modules.json` and the pooling module's `config.json` from a model folder.
    /// A folder without `modules.json` gets mean pooling without normalisation.
    public init(folder: ModelFolder) throws {
        guard let modules = try folder.jsonIfPresent("modules.json")?.arrayValue else {
            self.init(mode: .mean, normalize: false)
            return
        }
        var mode = Mode.mean
        var normalize = false
        for module in modules {
            let type = module["type"]?.stringValue ?? ""
            if type.hasSuffix(".Normalize") { normalize = true }
            if type.hasSuffix(".Pooling") {
                let relative = (module["path"]?.stringValue ?? "1_Pooling") + "/config.json"
                let config = try folder.json(relative)
                let enabled = ["pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
                               "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                               "pooling_mode_lasttoken"].filter { config[$0]?.boolValue == true }
                guard enabled == ["pooling_mode_mean_tokens"] else {
                    throw ModelGraphError.invalidConfig(
                        path: folder.filePath(relative), field: enabled.first ?? "pooling_mode_mean_tokens",
                        reason: "only mean pooling is supported (enabled: \(enabled))")
                }
                mode = .mean
            }
        }
        self.init(mode: mode, normalize: normalize)
    }

    func append(to builder: inout GraphBuilder, hiddenState: ValueID, mask: ValueID) throws -> ValueID {
        switch mode {
        case .mean: return builder.add("pooling", .meanPool, inputs: [hiddenState, mask])
        }
    }
}

/// Converts any readable checkpoint to a single safetensors file, keeping every tensor's
/// name, dtype, shape and bytes.
public enum CheckpointConversion {
    /// What a conversion wrote.
    public struct Summary: Sendable {
        public let tensorCount: Int
        public let totalBytes: Int
        public let sourceSHA256: String
    }

    /// Writes every tensor of `store` to `outputPath` (atomically). The file's
    /// `__metadata__` records the source format and the source file's sha256, plus the
    /// store's own safetensors metadata when the source is safetensors.
    @discardableResult
    public static func convertToSafetensors(_ store: any WeightStore, outputPath: String) throws -> Summary {
        var tensors: [RawTensor] = []
        tensors.reserveCapacity(store.tensors.count)
        for info in store.tensors {
            tensors.append(try store.rawTensor(named: info.name))
        }
        let digest = try SHA256.hexDigest(ofFile: store.path)
        var metadata: [String: String] = [:]
        if store.format == .safetensors, let object = store.metadata.objectValue {
            for (key, value) in object.entries {
                if let text = value.stringValue { metadata[key] = text }
            }
        }
        metadata["aimet_swift.source_format"] = store.format.rawValue
        metadata["aimet_swift.source_sha256"] = digest
        try SafetensorsWriter.write(tensors, metadata: metadata, to: outputPath)
        return Summary(tensorCount: tensors.count, totalBytes: tensors.reduce(0) { $0 + $1.bytes.count }, sourceSHA256: digest)
    }
}

import Foundation

/// Opens any checkpoint the model I/O layer understands, choosing the reader from the
/// file's contents (magic bytes), not from its name alone.
public enum WeightStores {
    /// The eight-byte signature every HDF5 file starts with (at offset 0, 512, 1024, ...).
    static let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Opens `path`: a safetensors file, a sharded `*.safetensors.index.json`, a folder
    /// holding `model.safetensors` or `model.safetensors.index.json`, an HDF5 file (Keras 2
    /// full model, Keras 3 `.weights.h5`, plain datasets) or a PyTorch checkpoint
    /// (zip or legacy pickle).
    public static func open(_ path: String) throws -> any WeightStore {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelIOError.fileNotFound(path: path)
        }
        if isDirectory.boolValue { return try openFolder(path) }
        switch try detectFormat(path) {
        case .safetensors: return try SafetensorsStore(path: path)
        case .shardedSafetensors: return try ShardedSafetensorsStore(indexPath: path)
        case .kerasModelHDF5, .kerasWeightsHDF5, .plainHDF5: return try HDF5Store(path: path)
        case .pytorchLegacy, .pytorchZip: return try PyTorchCheckpointStore(path: path)
        }
    }

    /// Recognises a file's format from its first bytes (and `.index.json` by name).
    /// HDF5 layouts are told apart only when the file is opened; this reports `.plainHDF5`.
    public static func detectFormat(_ path: String) throws -> WeightFormat {
        if path.hasSuffix(".index.json") { return .shardedSafetensors }
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        guard bytes.count >= 8 else {
            throw ModelIOError.unsupportedFormat(path: path, reason: "file has only \(bytes.count) bytes")
        }
        if hasHDF5Signature(bytes) { return .plainHDF5 }
        if bytes[0] == 0x50, bytes[1] == 0x4B, bytes[2] == 0x03, bytes[3] == 0x04 { return .pytorchZip }
        if bytes[0] == 0x80, (2...5).contains(bytes[1]) { return .pytorchLegacy }
        if bytes.count > 8, bytes[8] == UInt8(ascii: "{") { return .safetensors }
        if path.hasSuffix(".safetensors") { return .safetensors }
        throw ModelIOError.unsupportedFormat(
            path: path,
            reason: "not safetensors, HDF5 or a PyTorch checkpoint (first bytes \(bytes.prefix(8).map { String($0, radix: 16) }))")
    }

    private static func hasHDF5Signature(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset + 8 <= bytes.count, offset <= 1 << 20 {
            if (0..<8).allSatisfy({ bytes[offset + $0] == hdf5Signature[$0] }) { return true }
            offset = offset == 0 ? 512 : offset * 2
        }
        return false
    }

    /// The weights file of a model folder: `model.safetensors.index.json` when the folder is
    /// sharded, `model.safetensors` otherwise (whether or not it exists).
    public static func weightsPath(ofFolder folder: String) -> String {
        let index = URL(fileURLWithPath: folder).appendingPathComponent("model.safetensors.index.json").path
        if FileManager.default.fileExists(atPath: index) { return index }
        return URL(fileURLWithPath: folder).appendingPathComponent("model.safetensors").path
    }

    private static func openFolder(_ path: String) throws -> any WeightStore {
        let weights = weightsPath(ofFolder: path)
        if weights.hasSuffix(".index.json") { return try ShardedSafetensorsStore(indexPath: weights) }
        guard FileManager.default.fileExists(atPath: weights) else { throw ModelIOError.fileNotFound(path: weights) }
        if CompressedModel.isCompressed(folder: path) { return try CompressedModel(folder: path).dequantizedStore() }
        return try SafetensorsStore(path: weights)
    }
}

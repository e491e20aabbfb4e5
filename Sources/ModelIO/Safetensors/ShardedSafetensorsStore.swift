import Foundation
import QuantCore

/// A checkpoint split over several safetensors files, described by a Hugging Face index
/// (`model.safetensors.index.json`):
///
/// ```json
/// {"metadata": {"total_size": 123}, "weight_map": {"tensor name": "shard file name", ...}}
/// ```
///
/// Shard names are resolved relative to the index's folder and may not leave it. Every
/// shard is opened (and fully validated, see `SafetensorsStore`) when the store is created,
/// and every tensor of the weight map must be present in the shard it is assigned to.
///
/// Tensor order: shard by shard, shards sorted by file name (byte order, so
/// `model-00001-of-00003` comes first), and inside one shard in that shard's file order
/// (data offset). Tensors a shard holds but the weight map does not mention are not listed.
public final class ShardedSafetensorsStore: WeightStore {
    /// The index file the store was opened from.
    public let path: String
    /// Always `.shardedSafetensors`.
    public var format: WeightFormat { .shardedSafetensors }
    /// Every tensor of the weight map, in the order described above.
    public let tensors: [TensorInfo]
    /// The index's `metadata` object, or an empty object when the index has none.
    public let metadata: JSONValue
    /// The opened shards, sorted by file name.
    public let shards: [SafetensorsStore]

    private let shardIndexByTensor: [String: Int]

    /// Opens the index at `indexPath` and every shard it names.
    ///
    /// - Throws: `ModelIOError.fileNotFound` / `.invalidJSON` for an unreadable index;
    ///   `.invalidHeader` when the index lacks a `weight_map` of strings or a shard name
    ///   leaves the index's folder; `.missingShard` when a shard file does not exist;
    ///   `.tensorNotFound` (naming the shard) when a shard lacks a tensor assigned to it;
    ///   any error of `SafetensorsStore.init(path:)` for a malformed shard.
    public init(indexPath: String) throws {
        let indexFile = try MappedFile(path: indexPath)
        let json = try JSONParser.parse(indexFile.bytes, path: indexPath)
        guard case let .object(root) = json else {
            throw ModelIOError.invalidHeader(path: indexPath, reason: "the index is not a JSON object")
        }
        var metadata = JSONObject()
        if let value = root["metadata"] {
            guard case let .object(object) = value else {
                throw ModelIOError.invalidHeader(path: indexPath, reason: "'metadata' is not a JSON object")
            }
            metadata = object
        }
        guard let weightMapValue = root["weight_map"] else {
            throw ModelIOError.invalidHeader(path: indexPath, reason: "missing 'weight_map'")
        }
        guard case let .object(weightMap) = weightMapValue else {
            throw ModelIOError.invalidHeader(path: indexPath, reason: "'weight_map' is not a JSON object")
        }

        var tensorsByShard: [String: Set<String>] = [:]
        for (tensor, value) in weightMap.entries {
            guard let shard = value.stringValue else {
                throw ModelIOError.invalidHeader(
                    path: indexPath, reason: "weight_map entry of '\(tensor)' is not a string")
            }
            try ShardedSafetensorsStore.checkShardName(shard, indexPath: indexPath)
            tensorsByShard[shard, default: []].insert(tensor)
        }

        let folder = URL(fileURLWithPath: indexPath).deletingLastPathComponent()
        let shardNames = tensorsByShard.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var shards: [SafetensorsStore] = []
        var tensors: [TensorInfo] = []
        var shardIndexByTensor: [String: Int] = [:]
        for (shardIndex, shardName) in shardNames.enumerated() {
            let shardPath = folder.appendingPathComponent(shardName).path
            let shard: SafetensorsStore
            do {
                shard = try SafetensorsStore(path: shardPath)
            } catch ModelIOError.fileNotFound {
                throw ModelIOError.missingShard(index: indexPath, shard: shardName)
            }
            let wanted = tensorsByShard[shardName] ?? []
            var found = 0
            for info in shard.tensors where wanted.contains(info.name) {
                tensors.append(info)
                shardIndexByTensor[info.name] = shardIndex
                found += 1
            }
            if found != wanted.count {
                let present = Set(shard.tensors.map(\.name))
                let missing = wanted.filter { !present.contains($0) }
                    .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                throw ModelIOError.tensorNotFound(path: shardPath, tensor: missing[0])
            }
            shards.append(shard)
        }
        self.path = indexPath
        self.metadata = .object(metadata)
        self.shards = shards
        self.tensors = tensors
        self.shardIndexByTensor = shardIndexByTensor
    }

    /// The shard that holds tensor `name`, or nil if the weight map does not list it.
    public func shard(holding name: String) -> SafetensorsStore? {
        shardIndexByTensor[name].map { shards[$0] }
    }

    /// Calls `body` with the tensor's bytes, read without copying from its shard's mapping.
    ///
    /// - Throws: `ModelIOError.tensorNotFound` (naming the index) when the weight map does
    ///   not list `name`.
    public func withRawBytes<Result>(
        named name: String, _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> Result {
        guard let shard = shard(holding: name) else {
            throw ModelIOError.tensorNotFound(path: path, tensor: name)
        }
        return try shard.withRawBytes(named: name, body)
    }

    /// A shard name must stay inside the index's folder: relative, no `.`/`..` or empty
    /// components, no backslashes or NUL bytes.
    private static func checkShardName(_ name: String, indexPath: String) throws {
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        let escapes = name.hasPrefix("/") || name.contains("\\") || name.contains("\0")
            || components.contains { $0.isEmpty || $0 == "." || $0 == ".." }
        if escapes {
            throw ModelIOError.invalidHeader(
                path: indexPath, reason: "shard name '\(name)' does not stay inside the index's folder")
        }
    }
}

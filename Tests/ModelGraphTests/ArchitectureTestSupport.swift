import ModelIO
import QuantCore

/// A weight store held in memory (float32 tensors), for building graphs from synthetic
/// checkpoints.
final class InMemoryWeightStore: WeightStore, @unchecked Sendable {
    let path: String
    let format = WeightFormat.safetensors
    let metadata = JSONValue.object(JSONObject())
    private(set) var tensors: [TensorInfo] = []
    private var values: [String: [Float]] = [:]

    init(path: String) { self.path = path }

    /// Adds (or replaces) a float32 tensor.
    func set(_ name: String, shape: [Int], scalars: [Float]) {
        precondition(Tensor.elementCount(of: shape) == scalars.count, "shape and values disagree")
        let info = TensorInfo(name: name, dtype: .float32, shape: shape)
        if let index = tensors.firstIndex(where: { $0.name == name }) { tensors[index] = info } else { tensors.append(info) }
        values[name] = scalars
    }

    func remove(_ name: String) {
        tensors.removeAll { $0.name == name }
        values[name] = nil
    }

    func scalars(_ name: String) -> [Float] { values[name] ?? [] }

    func withRawBytes<Result>(named name: String, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        guard let scalars = values[name] else { throw ModelIOError.tensorNotFound(path: path, tensor: name) }
        return try scalars.withUnsafeBytes(body)
    }

    /// A synthetic checkpoint with `layout`'s tensors: small random weights, variances in [0.5, 1.5).
    static func synthetic(_ layout: [TensorInfo], path: String, seed: UInt64) -> InMemoryWeightStore {
        var generator = SeededGenerator(seed: seed)
        let store = InMemoryWeightStore(path: path)
        for info in layout {
            let isVariance = info.name.hasSuffix("running_var")
            let scalars = (0..<info.elementCount).map { _ in
                isVariance ? Float.random(in: 0.5..<1.5, using: &generator) : Float.random(in: -0.1..<0.1, using: &generator)
            }
            store.set(info.name, shape: info.shape, scalars: scalars)
        }
        return store
    }
}

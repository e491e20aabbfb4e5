import ModelIO
import QuantCore

/// Reads weights for a front end, checking each one's shape and values and remembering
/// which checkpoint tensors were used.
struct WeightLoader {
    let store: any WeightStore
    let prefix: String
    private(set) var used: Set<String> = []

    init(store: any WeightStore, prefix: String) {
        self.store = store
        self.prefix = prefix
    }

    /// The checkpoint tensor `prefix + name`, which must have `shape` and finite values.
    mutating func tensor(_ name: String, shape: [Int]) throws -> (Tensor, String) {
        let fullName = prefix + name
        guard let info = store.info(named: fullName) else {
            throw ModelGraphError.missingWeight(path: store.path, tensor: fullName)
        }
        guard info.shape == shape else {
            throw ModelGraphError.shapeMismatch(path: store.path, tensor: fullName, expected: shape, actual: info.shape)
        }
        let tensor = try store.floatTensor(named: fullName)
        guard tensor.scalars.allSatisfy(\.isFinite) else {
            throw ModelGraphError.nonFiniteWeight(path: store.path, tensor: fullName)
        }
        used.insert(fullName)
        return (tensor, fullName)
    }

    /// Weight and bias of a linear or normalisation layer called `name` as node parameters.
    mutating func weightAndBias(_ name: String, weightShape: [Int], biasShape: [Int])
        throws -> (parameters: [String: Tensor], sources: [String: String]) {
        let (weight, weightSource) = try tensor(name + ".weight", shape: weightShape)
        let (bias, biasSource) = try tensor(name + ".bias", shape: biasShape)
        return (["weight": weight, "bias": bias], ["weight": weightSource, "bias": biasSource])
    }
}

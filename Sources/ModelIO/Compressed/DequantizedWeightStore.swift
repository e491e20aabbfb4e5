import QuantCore

/// A compressed model seen as an ordinary float checkpoint: quantized tensors appear under
/// their source names, dequantized to F32; float tensors pass through.
final class DequantizedWeightStore: WeightStore, @unchecked Sendable {
    let model: CompressedModel
    let tensors: [TensorInfo]
    private let quantized: Set<String>

    init(model: CompressedModel) {
        self.model = model
        quantized = Set(model.quantizedNames)
        var infos: [TensorInfo] = []
        for info in model.store.tensors {
            if info.name.hasSuffix(".qdata") {
                let base = String(info.name.dropLast(".qdata".count))
                var shape = info.shape
                // Packed 4-bit (U8) halves the last axis; 4-bit stored one a byte (I8) does not.
                if model.bits[base] == 4, info.dtype == .uint8, let last = shape.last { shape[shape.count - 1] = last * 2 }
                infos.append(TensorInfo(name: base, dtype: .float32, shape: shape))
            } else if model.floatNames.contains(info.name) {
                infos.append(info)
            }
        }
        tensors = infos
    }

    var path: String { model.store.path }
    var format: WeightFormat { .safetensors }
    var metadata: JSONValue { model.store.metadata }

    func withRawBytes<Result>(named name: String, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        if quantized.contains(name) {
            let values = try model.record(named: name).dequantized()
            return try values.withUnsafeBytes(body)
        }
        return try model.store.withRawBytes(named: name, body)
    }
}

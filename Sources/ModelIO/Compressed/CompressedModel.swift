import Foundation
import QuantCore

/// A compressed model folder opened for reading: its quantized tensors as records, its float
/// tensors, the recipe and activation encodings from `__metadata__`.
public final class CompressedModel: Sendable {
    /// The folder.
    public let folder: String
    /// `model.safetensors` of the folder.
    public let store: SafetensorsStore
    /// The recipe that made the model.
    public let recipe: JSONValue
    /// Activation encodings in aimet-swift's grid convention.
    public let activationEncodings: JSONValue
    /// sha256 of the source checkpoint.
    public let sourceSHA256: String
    /// Names (source names, without suffix) of the quantized tensors, in file order.
    public let quantizedNames: [String]
    /// Names of the tensors stored as float, in file order.
    public let floatNames: [String]
    /// Bit width of each quantized tensor (`__metadata__.tensor_bits`).
    public let bits: [String: Int]

    /// True when `folder/model.safetensors` is a compressed model.
    public static func isCompressed(folder: String) -> Bool {
        let path = URL(fileURLWithPath: folder).appendingPathComponent("model.safetensors").path
        guard let store = try? SafetensorsStore(path: path) else { return false }
        return store.userMetadata["format"] == CompressedModelWriter.formatName
    }

    /// Opens the compressed model in `folder`; fails with a typed error naming the file when
    /// it is not one, is of another format version, or a quantized tensor lacks its scales.
    public init(folder: String) throws {
        let path = URL(fileURLWithPath: folder).appendingPathComponent("model.safetensors").path
        let store = try SafetensorsStore(path: path)
        let metadata = store.userMetadata
        guard metadata["format"] == CompressedModelWriter.formatName else {
            throw ModelIOError.unsupportedFormat(path: path, reason: "not an \(CompressedModelWriter.formatName) model (format: \(metadata["format"] ?? "none"))")
        }
        guard metadata["format_version"] == CompressedModelWriter.formatVersion else {
            throw ModelIOError.unsupportedFormat(
                path: path, reason: "format_version \(metadata["format_version"] ?? "none"); this build reads \(CompressedModelWriter.formatVersion)")
        }
        self.folder = folder
        self.store = store
        recipe = try JSONParser.parse(metadata["recipe"] ?? "null", path: path + " (__metadata__.recipe)")
        activationEncodings = try JSONParser.parse(metadata["activation_encodings"] ?? "{}", path: path + " (__metadata__.activation_encodings)")
        sourceSHA256 = metadata["source_sha256"] ?? ""
        let bitsJSON = try JSONParser.parse(metadata["tensor_bits"] ?? "{}", path: path + " (__metadata__.tensor_bits)")
        var bits: [String: Int] = [:]
        for (name, value) in bitsJSON.objectValue?.entries ?? [] {
            guard let width = value.intValue, [4, 8, 16].contains(width) else {
                throw ModelIOError.invalidHeader(path: path, reason: "tensor_bits['\(name)'] is not 4, 8 or 16")
            }
            bits[name] = width
        }
        self.bits = bits
        var quantized: [String] = [], floats: [String] = []
        let names = Set(store.tensors.map(\.name))
        for info in store.tensors {
            if info.name.hasSuffix(".qdata") {
                let base = String(info.name.dropLast(".qdata".count))
                guard names.contains(base + ".scale") else {
                    throw ModelIOError.invalidHeader(path: path, reason: "'\(info.name)' has no '\(base).scale'")
                }
                guard bits[base] != nil else {
                    throw ModelIOError.invalidHeader(path: path, reason: "'\(info.name)' has no entry in __metadata__.tensor_bits")
                }
                quantized.append(base)
            } else if !info.name.hasSuffix(".scale") && !info.name.hasSuffix(".zero_point") {
                floats.append(info.name)
            }
        }
        quantizedNames = quantized
        floatNames = floats
    }

    /// The quantized tensor `name` (source name) decoded into a record.
    public func record(named name: String) throws -> QuantizedTensorRecord {
        guard let dataInfo = store.info(named: name + ".qdata"), let scaleInfo = store.info(named: name + ".scale") else {
            throw ModelIOError.tensorNotFound(path: store.path, tensor: name + ".qdata")
        }
        let scales = try store.floatTensor(named: name + ".scale").scalars
        let zeroPoints = store.info(named: name + ".zero_point") == nil
            ? nil : try store.floatTensor(named: name + ".zero_point").scalars.map { Int32($0) }
        let symmetric = zeroPoints == nil
        var shape = dataInfo.shape
        let values: [Int32]
        let bits: Int
        switch dataInfo.dtype {
        case .uint8 where self.bits[name] == 4:
            guard let last = shape.last else { throw ModelIOError.invalidTensor(tensor: name, reason: "a 4-bit tensor needs a last axis") }
            shape[shape.count - 1] = last * 2
            bits = 4
            values = try store.withRawBytes(named: name + ".qdata") { try Int4Packing.unpack(Array($0), shape: shape, signed: symmetric) }
        case .int8:
            // 4-bit tensors with an odd last axis are stored one value a byte (the record
            // checks that every value lies on the 4-bit grid).
            bits = self.bits[name] == 4 ? 4 : 8
            values = try store.withRawBytes(named: name + ".qdata") { $0.map { Int32(Int8(bitPattern: $0)) } }
        case .uint8:
            bits = 8
            values = try store.withRawBytes(named: name + ".qdata") { $0.map { Int32($0) } }
        case .int16, .int32:
            bits = 16
            values = try store.floatTensor(named: name + ".qdata").scalars.map { Int32($0) }
        default:
            throw ModelIOError.invalidTensor(tensor: name, reason: "quantized data of dtype \(dataInfo.dtype.rawValue) is not part of the format")
        }
        return try QuantizedTensorRecord(name: name, bits: bits, symmetric: symmetric, shape: shape, values: values,
                                         scales: scales, scaleShape: scaleInfo.shape, zeroPoints: zeroPoints)
    }

    /// A read-only store presenting every tensor under its source name as float
    /// (quantized ones dequantized), so front ends build the same graph as for the source.
    public func dequantizedStore() -> any WeightStore {
        DequantizedWeightStore(model: self)
    }
}

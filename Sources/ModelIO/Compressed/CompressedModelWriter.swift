import Foundation
import QuantCore

/// Everything a compressed model folder holds besides the source folder's other files.
public struct CompressedModelContents: Sendable {
    public var quantized: [QuantizedTensorRecord]
    /// Tensors that stay float, under their own names.
    public var floats: [RawTensor]
    /// The recipe that made the model (stored as a JSON string in `__metadata__`).
    public var recipe: JSONValue
    /// sha256 of the source checkpoint.
    public var sourceSHA256: String
    /// Activation encodings in aimet-swift's own grid convention (stored in `__metadata__`).
    public var activationEncodings: JSONValue
    /// Further files to write into the folder (`encodings.json`, `quality.json`), by name.
    public var extraFiles: [String: [UInt8]]

    public init(quantized: [QuantizedTensorRecord], floats: [RawTensor], recipe: JSONValue, sourceSHA256: String,
                activationEncodings: JSONValue, extraFiles: [String: [UInt8]]) {
        self.quantized = quantized
        self.floats = floats
        self.recipe = recipe
        self.sourceSHA256 = sourceSHA256
        self.activationEncodings = activationEncodings
        self.extraFiles = extraFiles
    }
}

/// Writes compressed model folders (format `aimet-swift.compressed`, see the design doc):
/// atomically (a temporary sibling folder renamed into place) and byte-identically for the
/// same contents.
public enum CompressedModelWriter {
    /// The `format` value in `__metadata__`.
    public static let formatName = "aimet-swift.compressed"
    /// The `format_version` this build writes and reads.
    public static let formatVersion = "1"
    /// File name suffixes that hold weights and are therefore not copied from the source.
    static let weightSuffixes = [".safetensors", ".safetensors.index.json", ".bin", ".bin.index.json", ".pth", ".pt",
                                 ".h5", ".hdf5", ".onnx", ".gguf", ".msgpack", ".ckpt"]

    /// Writes `contents` (plus every non-weight file of `sourceFolder`) to `folder`.
    /// An existing folder at that path is replaced only once the new one is complete.
    public static func write(_ contents: CompressedModelContents, copyingFrom sourceFolder: String?, to folder: String) throws {
        let destination = URL(fileURLWithPath: folder)
        let parent = destination.deletingLastPathComponent()
        let manager = FileManager.default
        guard manager.fileExists(atPath: parent.path) else {
            throw ModelIOError.writeFailed(path: folder, reason: "folder \(parent.path) does not exist")
        }
        let temporary = parent.appendingPathComponent(".\(destination.lastPathComponent).tmp-\(UUID().uuidString)")
        do {
            try manager.createDirectory(at: temporary, withIntermediateDirectories: false)
            if let sourceFolder { try copyNonWeightFiles(from: sourceFolder, to: temporary.path) }
            try SafetensorsWriter.write(try tensors(of: contents), metadata: metadata(of: contents),
                                        to: temporary.appendingPathComponent("model.safetensors").path)
            for (name, bytes) in contents.extraFiles.sorted(by: { $0.key < $1.key }) {
                try AtomicFile.write(Data(bytes), to: temporary.appendingPathComponent(name).path)
            }
            try replace(destination, with: temporary)
        } catch {
            try? manager.removeItem(at: temporary)
            if let error = error as? ModelIOError { throw error }
            throw ModelIOError.writeFailed(path: folder, reason: "\(error)")
        }
    }

    /// The safetensors tensors of a compressed model: `T.qdata`, `T.scale`, `T.zero_point`
    /// for each quantized tensor, float tensors unchanged.
    public static func tensors(of contents: CompressedModelContents) throws -> [RawTensor] {
        var tensors = contents.floats
        for record in contents.quantized {
            let (dtype, dataShape, bytes) = try encodeValues(record)
            tensors.append(try RawTensor(info: TensorInfo(name: record.name + ".qdata", dtype: dtype, shape: dataShape), bytes: bytes))
            tensors.append(try RawTensor(info: TensorInfo(name: record.name + ".scale", dtype: .float32, shape: record.scaleShape),
                                         bytes: record.scales.withUnsafeBytes { Array($0) }))
            if let zeroPoints = record.zeroPoints {
                tensors.append(try RawTensor(info: TensorInfo(name: record.name + ".zero_point", dtype: .int32, shape: record.scaleShape),
                                             bytes: zeroPoints.withUnsafeBytes { Array($0) }))
            }
        }
        return tensors
    }

    static func metadata(of contents: CompressedModelContents) -> [String: String] {
        let writer = JSONWriter(sortedKeys: true)
        return [
            "format": formatName,
            "format_version": formatVersion,
            "recipe": writer.string(contents.recipe),
            "source_sha256": contents.sourceSHA256,
            "activation_encodings": writer.string(contents.activationEncodings),
            "tensor_bits": writer.string(.object(JSONObject(contents.quantized.map { ($0.name, JSONValue.integer($0.bits)) }))),
        ]
    }

    /// The stored dtype, shape and bytes of a record's values (4-bit: packed two a byte).
    static func encodeValues(_ record: QuantizedTensorRecord) throws -> (DType, [Int], [UInt8]) {
        switch (record.bits, record.symmetric) {
        case (4, _):
            guard let last = record.shape.last, last % 2 == 0 else {
                // An odd last axis (depthwise kernels, a 3-channel stem) cannot pair its
                // columns: one value a byte, as I8 (−8…7 or 0…15), under tensor_bits 4.
                return (.int8, record.shape, record.values.map { UInt8(bitPattern: Int8($0)) })
            }
            let packed = try Int4Packing.pack(record.values, shape: record.shape, signed: record.symmetric)
            return (.uint8, Array(record.shape.dropLast()) + [last / 2], packed)
        case (8, true):
            return (.int8, record.shape, record.values.map { UInt8(bitPattern: Int8($0)) })
        case (8, false):
            return (.uint8, record.shape, record.values.map { UInt8($0) })
        case (16, true):
            return (.int16, record.shape, record.values.map { Int16($0) }.withUnsafeBytes { Array($0) })
        default:
            return (.int32, record.shape, record.values.withUnsafeBytes { Array($0) })
        }
    }

    static func copyNonWeightFiles(from source: String, to destination: String) throws {
        let folder = try ModelFolder(path: source)
        for file in try folder.allFiles() where !weightSuffixes.contains(where: { file.hasSuffix($0) }) {
            if file.hasPrefix(".") || file.contains("/.") { continue }
            let target = URL(fileURLWithPath: destination).appendingPathComponent(file)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: folder.filePath(file), toPath: target.path)
        }
    }

    static func replace(_ destination: URL, with temporary: URL) throws {
        let manager = FileManager.default
        if manager.fileExists(atPath: destination.path) {
            let retired = destination.deletingLastPathComponent()
                .appendingPathComponent(".\(destination.lastPathComponent).old-\(UUID().uuidString)")
            try AtomicFile.rename(from: destination.path, to: retired.path)
            do {
                try AtomicFile.rename(from: temporary.path, to: destination.path)
            } catch {
                try? AtomicFile.rename(from: retired.path, to: destination.path)
                throw error
            }
            try? manager.removeItem(at: retired)
        } else {
            try AtomicFile.rename(from: temporary.path, to: destination.path)
        }
    }
}

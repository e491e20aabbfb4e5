#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import QuantCore

/// Writes safetensors files byte-identical to Python `safetensors` 0.4.5
/// (`safetensors.numpy.save_file` / `safetensors.torch.save_file`).
///
/// The layout the reference writes, reproduced here:
/// - tensors sorted by dtype, descending in the reference's dtype order
///   (I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL for the dtypes ModelIO knows),
///   then by name in UTF-8 byte order; data packed back to back in that order;
/// - the header is compact JSON (no spaces): `__metadata__` first when there is metadata,
///   then each tensor as `{"dtype":…,"shape":[…],"data_offsets":[begin,end]}` in data order;
///   strings escape only `"`, `\` and control characters (lowercase `\u00xx`);
/// - the header is padded with spaces to a multiple of 8 bytes, and its padded length is
///   written first as a little-endian UInt64.
///
/// Two deliberate choices where the reference is not deterministic or not expressible:
/// the reference keeps metadata in a hash map and writes its keys in a different order
/// from run to run; this writer always sorts them by UTF-8 bytes. Empty `metadata` writes
/// no `__metadata__` entry, as the reference does for `metadata=None`.
public enum SafetensorsWriter {
    /// The complete file contents for `tensors` and `metadata`.
    ///
    /// - Throws: `ModelIOError.invalidTensor` for a repeated name, the reserved name
    ///   `__metadata__`, or bytes that do not match shape × dtype size.
    public static func serialize(_ tensors: [RawTensor], metadata: [String: String]) throws -> [UInt8] {
        let (header, ordered) = try prepare(tensors, metadata: metadata)
        var output = header
        output.reserveCapacity(header.count + ordered.reduce(0) { $0 + $1.bytes.count })
        for tensor in ordered { output.append(contentsOf: tensor.bytes) }
        return output
    }

    /// Writes `tensors` and `metadata` to `path` atomically: the data goes to a temporary
    /// file beside `path` that is renamed into place only when complete.
    ///
    /// - Throws: `ModelIOError.invalidTensor` as for `serialize(_:metadata:)`;
    ///   `ModelIOError.writeFailed` when the file cannot be written (nothing is left at `path`).
    public static func write(_ tensors: [RawTensor], metadata: [String: String], to path: String) throws {
        let (header, ordered) = try prepare(tensors, metadata: metadata)
        try AtomicFile.write(to: path) { temporaryPath in
            let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard descriptor >= 0 else {
                throw ModelIOError.writeFailed(path: path, reason: String(cString: strerror(errno)))
            }
            var closed = false
            defer { if !closed { _ = close(descriptor) } }
            try writeAll(header, to: descriptor, path: path)
            for tensor in ordered { try writeAll(tensor.bytes, to: descriptor, path: path) }
            closed = true
            guard close(descriptor) == 0 else {
                throw ModelIOError.writeFailed(path: path, reason: String(cString: strerror(errno)))
            }
        }
    }

    /// The reference's dtype rank: larger ranks are written first.
    static func rank(of dtype: DType) -> Int {
        // Position in safetensors' `Dtype` enum (BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16,
        // F16, BF16, I32, U32, F32, F64, I64, U64), whose derived order the reference sorts by.
        switch dtype {
        case .bool: return 0
        case .uint8: return 1
        case .int8: return 2
        case .int16: return 5
        case .float16: return 7
        case .bfloat16: return 8
        case .int32: return 9
        case .float32: return 11
        case .float64: return 12
        case .int64: return 13
        }
    }

    /// Validates and orders the tensors; returns the length field + padded header and the
    /// tensors in data order.
    static func prepare(_ tensors: [RawTensor], metadata: [String: String]) throws -> ([UInt8], [RawTensor]) {
        var names = Set<String>()
        for tensor in tensors {
            let info = tensor.info
            guard info.name != "__metadata__" else {
                throw ModelIOError.invalidTensor(tensor: info.name, reason: "the name is reserved for metadata")
            }
            guard names.insert(info.name).inserted else {
                throw ModelIOError.invalidTensor(tensor: info.name, reason: "the name appears more than once")
            }
            guard info.shape.allSatisfy({ $0 >= 0 }) else {
                throw ModelIOError.invalidTensor(tensor: info.name, reason: "shape \(info.shape) has a negative extent")
            }
            var expected = info.dtype.byteSize
            for extent in info.shape {
                let (product, overflow) = expected.multipliedReportingOverflow(by: extent)
                guard !overflow else {
                    throw ModelIOError.invalidTensor(tensor: info.name, reason: "shape \(info.shape) is too large")
                }
                expected = product
            }
            guard tensor.bytes.count == expected else {
                throw ModelIOError.invalidTensor(
                    tensor: info.name,
                    reason: "shape \(info.shape) of \(info.dtype.rawValue) needs \(expected) bytes, got \(tensor.bytes.count)")
            }
        }
        let ordered = tensors.sorted { left, right in
            let leftRank = rank(of: left.info.dtype), rightRank = rank(of: right.info.dtype)
            if leftRank != rightRank { return leftRank > rightRank }
            return left.info.name.utf8.lexicographicallyPrecedes(right.info.name.utf8)
        }

        var root = JSONObject()
        if !metadata.isEmpty {
            var object = JSONObject()
            for key in metadata.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                object[key] = .string(metadata[key]!)
            }
            root["__metadata__"] = .object(object)
        }
        var offset = 0
        for tensor in ordered {
            let end = offset + tensor.bytes.count
            root[tensor.info.name] = .object(JSONObject([
                ("dtype", .string(tensor.info.dtype.safetensorsName)),
                ("shape", .array(tensor.info.shape.map { .integer($0) })),
                ("data_offsets", .array([.integer(offset), .integer(end)])),
            ]))
            offset = end
        }
        var header = Array(JSONWriter(sortedKeys: false, indent: nil).string(.object(root)).utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        var output: [UInt8] = []
        output.reserveCapacity(8 + header.count)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { output.append(contentsOf: $0) }
        output.append(contentsOf: header)
        return (output, ordered)
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws {
        try bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let result = systemWrite(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    throw ModelIOError.writeFailed(path: path, reason: String(cString: strerror(errno)))
                }
                written += result
            }
        }
    }
}

/// POSIX `write(2)`, spelled so it does not clash with `SafetensorsWriter.write`.
@inline(__always)
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(descriptor, buffer, count)
    #else
    return Darwin.write(descriptor, buffer, count)
    #endif
}

import CHDF5
import Foundation

/// Process-wide access to libhdf5. The serial library is not thread-safe, so every call
/// into it (reader and writer alike) runs under one lock. The lock is not recursive:
/// code inside `withLock` must never call `withLock` again.
enum HDF5Library {
    private static let lock = NSLock()

    /// Runs `body` while holding the HDF5 lock. HDF5's automatic error printing is
    /// switched off first: errors become values. (In thread-safe builds of libhdf5, such
    /// as Debian's, that setting is per thread, so it is applied on every entry; it costs
    /// one cheap call.)
    static func withLock<Result>(_ body: () throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        aimet_silence_errors()
        return try body()
    }

    /// The descriptions on HDF5's error stack (innermost first); clears the stack.
    /// Call with the lock held.
    static func errorDescription() -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        let length = buffer.withUnsafeMutableBufferPointer {
            aimet_error_description($0.baseAddress, $0.count)
        }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An `hdf5Failure` naming the object and the failed call, with HDF5's own explanation.
    static func failure(path: String, object: String, operation: String) -> ModelIOError {
        let description = errorDescription()
        let detail = description.isEmpty ? operation : "\(operation) (\(description))"
        return .hdf5Failure(path: path, object: object, operation: detail)
    }

    /// Returns `identifier` when it is valid (non-negative), else throws an `hdf5Failure`.
    static func check(_ identifier: hid_t, path: String, object: String, operation: String) throws -> hid_t {
        guard identifier >= 0 else { throw failure(path: path, object: object, operation: operation) }
        return identifier
    }

    /// Throws an `hdf5Failure` when a status code is negative.
    static func check(_ status: herr_t, path: String, object: String, operation: String) throws {
        guard status >= 0 else { throw failure(path: path, object: object, operation: operation) }
    }
}

/// A string-typed attribute: its elements and whether it was a scalar.
struct HDF5StringAttribute {
    var values: [String]
    var isScalar: Bool
}

extension HDF5Library {
    /// Largest attribute this reader accepts (elements × element size), against hostile files.
    static let maximumAttributeBytes = 256 << 20

    /// True when `object` carries an attribute called `name`. Call with the lock held.
    static func hasAttribute(_ object: hid_t, _ name: String) -> Bool {
        let status = H5Aexists(object, name)
        if status < 0 { _ = errorDescription() }
        return status > 0
    }

    /// Reads attribute `name` of `object` as strings. Returns nil when the attribute holds
    /// something other than strings; an empty attribute (no elements, whatever its type)
    /// reads as no strings. Call with the lock held.
    static func readStringAttribute(
        _ object: hid_t, _ name: String, path: String, objectName: String
    ) throws -> HDF5StringAttribute? {
        let where_ = objectName.isEmpty ? "/@\(name)" : "\(objectName)@\(name)"
        let attribute = try check(H5Aopen(object, name, aimet_H5P_DEFAULT), path: path, object: where_, operation: "H5Aopen")
        defer { H5Aclose(attribute) }
        let type = try check(H5Aget_type(attribute), path: path, object: where_, operation: "H5Aget_type")
        defer { H5Tclose(type) }
        let space = try check(H5Aget_space(attribute), path: path, object: where_, operation: "H5Aget_space")
        defer { H5Sclose(space) }
        let spaceClass = H5Sget_simple_extent_type(space)
        let points = H5Sget_simple_extent_npoints(space)
        guard points >= 0 else { throw failure(path: path, object: where_, operation: "H5Sget_simple_extent_npoints") }
        if spaceClass == H5S_NULL || points == 0 { return HDF5StringAttribute(values: [], isScalar: false) }
        guard H5Tget_class(type) == H5T_STRING else { return nil }
        let count = Int(points)
        let isScalar = spaceClass == H5S_SCALAR
        if H5Tis_variable_str(type) > 0 {
            guard count <= maximumAttributeBytes / 8 else {
                throw ModelIOError.invalidHeader(path: path, reason: "attribute '\(where_)' has \(count) strings")
            }
            let memoryType = try check(H5Tcopy(aimet_H5T_C_S1()), path: path, object: where_, operation: "H5Tcopy")
            defer { H5Tclose(memoryType) }
            try check(H5Tset_size(memoryType, aimet_H5T_VARIABLE()), path: path, object: where_, operation: "H5Tset_size")
            try check(H5Tset_cset(memoryType, H5Tget_cset(type)), path: path, object: where_, operation: "H5Tset_cset")
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            return try pointers.withUnsafeMutableBufferPointer { buffer in
                try check(H5Aread(attribute, memoryType, buffer.baseAddress), path: path, object: where_, operation: "H5Aread")
                defer { _ = aimet_reclaim(memoryType, space, buffer.baseAddress) }
                let values = buffer.map { pointer in pointer.map { String(cString: $0) } ?? "" }
                return HDF5StringAttribute(values: values, isScalar: isScalar)
            }
        }
        let size = H5Tget_size(type)
        let (total, overflow) = count.multipliedReportingOverflow(by: size)
        guard size > 0, !overflow, total <= maximumAttributeBytes else {
            throw ModelIOError.invalidHeader(path: path, reason: "attribute '\(where_)' is too large")
        }
        var bytes = [UInt8](repeating: 0, count: total)
        try bytes.withUnsafeMutableBytes { buffer in
            try check(H5Aread(attribute, type, buffer.baseAddress), path: path, object: where_, operation: "H5Aread")
        }
        let spacePadded = H5Tget_strpad(type) == H5T_STR_SPACEPAD
        let values = (0..<count).map { index -> String in
            var element = bytes[(index * size)..<((index + 1) * size)]
            if let end = element.firstIndex(of: 0) { element = element[..<end] }
            if spacePadded { while element.last == 0x20 { element = element.dropLast() } }
            return String(decoding: element, as: UTF8.self)
        }
        return HDF5StringAttribute(values: values, isScalar: isScalar)
    }

    /// The names of every attribute of `object`, in name order. Call with the lock held.
    static func attributeNames(_ object: hid_t, path: String, objectName: String) throws -> [String] {
        let count = aimet_attribute_count(object)
        guard count >= 0 else { throw failure(path: path, object: objectName, operation: "H5Oget_info") }
        var names: [String] = []
        for index in 0..<count {
            let length = H5Aget_name_by_idx(object, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), nil, 0, aimet_H5P_DEFAULT)
            guard length >= 0 else { throw failure(path: path, object: objectName, operation: "H5Aget_name_by_idx") }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            let written = buffer.withUnsafeMutableBufferPointer {
                H5Aget_name_by_idx(object, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), $0.baseAddress, $0.count, aimet_H5P_DEFAULT)
            }
            guard written >= 0 else { throw failure(path: path, object: objectName, operation: "H5Aget_name_by_idx") }
            names.append(String(decoding: buffer[0..<Int(written)].map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    /// Every string attribute of `object` as a JSON object (scalars as strings, arrays as
    /// arrays of strings), in name order; other attributes are left out. Lock held.
    static func stringAttributes(_ object: hid_t, path: String, objectName: String) throws -> JSONObject {
        var result = JSONObject()
        for name in try attributeNames(object, path: path, objectName: objectName) {
            guard let attribute = try readStringAttribute(object, name, path: path, objectName: objectName),
                  !attribute.values.isEmpty else { continue }
            if attribute.isScalar, let value = attribute.values.first {
                result[name] = .string(value)
            } else {
                result[name] = .array(attribute.values.map { .string($0) })
            }
        }
        return result
    }
}

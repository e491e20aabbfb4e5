import CHDF5
import QuantCore

/// Writes tensors as a plain HDF5 file that `HDF5Store` reads back with the same names,
/// dtypes, shapes, values and order (tensors that share a group are listed together,
/// in the order the group was first used).
///
/// One dataset per tensor; a `/` in a name makes groups. Element types: F64, F32, I64,
/// I32, I16, I8 and U8 as the standard little-endian HDF5 types; F16 and BF16 as 16-bit
/// IEEE-style floats (BF16: 8-bit exponent, 7-bit mantissa); BOOL as h5py's FALSE/TRUE
/// enum. Root attributes are variable-length UTF-8 strings, written in key order. Objects
/// carry no timestamps, so identical input gives a byte-identical file. The file appears
/// at `path` only when complete (written beside it, then renamed).
public enum HDF5Writer {
    /// Writes `tensors` and the root string `attributes` to `path`.
    /// Throws `invalidTensor` for an unusable name (empty, empty or `.`/`..` components,
    /// a duplicate, or a name that is also another tensor's group) and `writeFailed` when
    /// the file cannot be written.
    public static func write(_ tensors: [RawTensor], attributes: [String: String], to path: String) throws {
        try validate(names: tensors.map(\.info.name))
        for (key, value) in attributes where key.isEmpty || key.utf8.contains(0) || value.utf8.contains(0) {
            throw ModelIOError.writeFailed(path: path, reason: "attribute '\(key)' has an empty name or contains a NUL character")
        }
        try AtomicFile.write(to: path) { temporaryPath in
            try HDF5Library.withLock {
                try writeFile(tensors, attributes: attributes, at: temporaryPath, reportedAs: path)
            }
        }
    }

    static func validate(names: [String]) throws {
        var datasets = Set<String>()
        var groups = Set<String>()
        for name in names {
            let components = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard !name.isEmpty, !name.utf8.contains(0),
                  components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
                throw ModelIOError.invalidTensor(
                    tensor: name, reason: "an HDF5 tensor name needs non-empty '/'-separated parts other than '.' and '..'")
            }
            guard datasets.insert(name).inserted else {
                throw ModelIOError.invalidTensor(tensor: name, reason: "the name appears twice")
            }
            for count in 1..<components.count {
                groups.insert(components[0..<count].joined(separator: "/"))
            }
        }
        if let clash = names.first(where: { groups.contains($0) }) {
            throw ModelIOError.invalidTensor(tensor: clash, reason: "the name is also the group of another tensor")
        }
    }

    /// Writes the whole file at `temporaryPath` (lock held); errors name `reportedAs`.
    private static func writeFile(
        _ tensors: [RawTensor], attributes: [String: String], at temporaryPath: String, reportedAs path: String
    ) throws {
        func check(_ identifier: hid_t, _ operation: String, _ object: String = "/") throws -> hid_t {
            guard identifier >= 0 else { throw writeFailure(path: path, object: object, operation: operation) }
            return identifier
        }
        func check(_ status: herr_t, _ operation: String, _ object: String = "/") throws {
            guard status >= 0 else { throw writeFailure(path: path, object: object, operation: operation) }
        }
        let fileCreation = try check(H5Pcreate(aimet_H5P_FILE_CREATE()), "H5Pcreate")
        defer { H5Pclose(fileCreation) }
        try check(H5Pset_obj_track_times(fileCreation, false), "H5Pset_obj_track_times")
        try check(H5Pset_link_creation_order(fileCreation, aimet_H5P_CRT_ORDER_TRACKED_INDEXED), "H5Pset_link_creation_order")
        let groupCreation = try check(H5Pcreate(aimet_H5P_GROUP_CREATE()), "H5Pcreate")
        defer { H5Pclose(groupCreation) }
        try check(H5Pset_obj_track_times(groupCreation, false), "H5Pset_obj_track_times")
        try check(H5Pset_link_creation_order(groupCreation, aimet_H5P_CRT_ORDER_TRACKED_INDEXED), "H5Pset_link_creation_order")
        let datasetCreation = try check(H5Pcreate(aimet_H5P_DATASET_CREATE()), "H5Pcreate")
        defer { H5Pclose(datasetCreation) }
        try check(H5Pset_obj_track_times(datasetCreation, false), "H5Pset_obj_track_times")

        let file = try check(H5Fcreate(temporaryPath, aimet_H5F_ACC_EXCL(), fileCreation, aimet_H5P_DEFAULT), "H5Fcreate")
        var fileOpen = true
        defer { if fileOpen { H5Fclose(file) } }
        do {
            let root = try check(H5Gopen2(file, "/", aimet_H5P_DEFAULT), "H5Gopen2")
            defer { H5Gclose(root) }

            for tensor in tensors {
                let name = tensor.info.name
                let components = name.split(separator: "/").map(String.init)
                var parents: [hid_t] = []
                defer { parents.reversed().forEach { H5Gclose($0) } }
                var location = root
                for (depth, component) in components.dropLast().enumerated() {
                    let groupPath = components[0...depth].joined(separator: "/")
                    let group: hid_t
                    if aimet_object_type(location, component) == Int32(AIMET_OBJECT_GROUP) {
                        group = try check(H5Gopen2(location, component, aimet_H5P_DEFAULT), "H5Gopen2", groupPath)
                    } else {
                        group = try check(H5Gcreate2(location, component, aimet_H5P_DEFAULT, groupCreation, aimet_H5P_DEFAULT),
                                          "H5Gcreate2", groupPath)
                    }
                    parents.append(group)
                    location = group
                }
                try writeDataset(tensor, in: location, named: components[components.count - 1],
                                 datasetCreation: datasetCreation, path: path)
            }
            for key in attributes.keys.sorted() {
                try writeStringAttribute(root, name: key, value: attributes[key] ?? "", path: path)
            }
        }
        fileOpen = false
        try check(H5Fclose(file), "H5Fclose")
    }

    private static func writeDataset(
        _ tensor: RawTensor, in location: hid_t, named leaf: String, datasetCreation: hid_t, path: String
    ) throws {
        let name = tensor.info.name
        func check(_ identifier: hid_t, _ operation: String) throws -> hid_t {
            guard identifier >= 0 else { throw writeFailure(path: path, object: name, operation: operation) }
            return identifier
        }
        let type = try check(fileType(for: tensor.info.dtype), "create datatype")
        defer { H5Tclose(type) }
        let shape = tensor.info.shape
        let space: hid_t
        if shape.isEmpty {
            space = try check(H5Screate(H5S_SCALAR), "H5Screate")
        } else {
            let extents = shape.map { hsize_t($0) }
            space = try check(H5Screate_simple(Int32(extents.count), extents, nil), "H5Screate_simple")
        }
        defer { H5Sclose(space) }
        let dataset = try check(
            H5Dcreate2(location, leaf, type, space, aimet_H5P_DEFAULT, datasetCreation, aimet_H5P_DEFAULT), "H5Dcreate2")
        defer { H5Dclose(dataset) }
        guard tensor.info.elementCount > 0 else { return }
        let bytes = tensor.info.dtype == .bool ? tensor.bytes.map { $0 == 0 ? 0 : 1 } : tensor.bytes
        let status = bytes.withUnsafeBytes {
            H5Dwrite(dataset, type, aimet_H5S_ALL, aimet_H5S_ALL, aimet_H5P_DEFAULT, $0.baseAddress)
        }
        guard status >= 0 else { throw writeFailure(path: path, object: name, operation: "H5Dwrite") }
    }

    /// A new datatype id (caller closes it) for `dtype` as stored in the file; negative on failure.
    private static func fileType(for dtype: DType) -> hid_t {
        switch dtype {
        case .float64: return H5Tcopy(aimet_H5T_IEEE_F64LE())
        case .float32: return H5Tcopy(aimet_H5T_IEEE_F32LE())
        case .float16: return sixteenBitFloat(exponentPosition: 10, exponentSize: 5, mantissaSize: 10, bias: 15)
        case .bfloat16: return sixteenBitFloat(exponentPosition: 7, exponentSize: 8, mantissaSize: 7, bias: 127)
        case .int64: return H5Tcopy(aimet_H5T_STD_I64LE())
        case .int32: return H5Tcopy(aimet_H5T_STD_I32LE())
        case .int16: return H5Tcopy(aimet_H5T_STD_I16LE())
        case .int8: return H5Tcopy(aimet_H5T_STD_I8LE())
        case .uint8: return H5Tcopy(aimet_H5T_STD_U8LE())
        case .bool:
            let type = H5Tenum_create(aimet_H5T_STD_I8LE())
            guard type >= 0 else { return type }
            var falseValue: Int8 = 0
            var trueValue: Int8 = 1
            guard H5Tenum_insert(type, "FALSE", &falseValue) >= 0, H5Tenum_insert(type, "TRUE", &trueValue) >= 0 else {
                H5Tclose(type)
                return -1
            }
            return type
        }
    }

    /// A little-endian 16-bit float: sign bit 15, mantissa from bit 0.
    private static func sixteenBitFloat(exponentPosition: Int, exponentSize: Int, mantissaSize: Int, bias: Int) -> hid_t {
        let type = H5Tcopy(aimet_H5T_IEEE_F32LE())
        guard type >= 0 else { return type }
        guard H5Tset_fields(type, 15, exponentPosition, exponentSize, 0, mantissaSize) >= 0,
              H5Tset_size(type, 2) >= 0, H5Tset_ebias(type, bias) >= 0 else {
            H5Tclose(type)
            return -1
        }
        return type
    }

    private static func writeStringAttribute(_ object: hid_t, name: String, value: String, path: String) throws {
        let label = "/@\(name)"
        let type = H5Tcopy(aimet_H5T_C_S1())
        guard type >= 0 else { throw writeFailure(path: path, object: label, operation: "H5Tcopy") }
        defer { H5Tclose(type) }
        guard H5Tset_size(type, aimet_H5T_VARIABLE()) >= 0, H5Tset_cset(type, H5T_CSET_UTF8) >= 0 else {
            throw writeFailure(path: path, object: label, operation: "H5Tset_size")
        }
        let space = H5Screate(H5S_SCALAR)
        guard space >= 0 else { throw writeFailure(path: path, object: label, operation: "H5Screate") }
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(object, name, type, space, aimet_H5P_DEFAULT, aimet_H5P_DEFAULT)
        guard attribute >= 0 else { throw writeFailure(path: path, object: label, operation: "H5Acreate2") }
        defer { H5Aclose(attribute) }
        let status = value.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            return withUnsafePointer(to: &pointer) { H5Awrite(attribute, type, $0) }
        }
        guard status >= 0 else { throw writeFailure(path: path, object: label, operation: "H5Awrite") }
    }

    private static func writeFailure(path: String, object: String, operation: String) -> ModelIOError {
        let description = HDF5Library.errorDescription()
        let detail = description.isEmpty ? "" : ": \(description)"
        return .writeFailed(path: path, reason: "HDF5 \(operation) on '\(object)'\(detail)")
    }
}

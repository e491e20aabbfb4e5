import CHDF5
import QuantCore

/// Maps HDF5 datasets to `TensorInfo` and reads their elements as little-endian bytes.
/// Every function here expects the HDF5 lock to be held.
enum HDF5Dataset {
    /// Bit layout of an IEEE-style float: sign position, exponent position and size,
    /// mantissa position and size, exponent bias.
    private struct FloatLayout: Equatable {
        var signPosition: Int, exponentPosition: Int, exponentSize: Int
        var mantissaPosition: Int, mantissaSize: Int, exponentBias: Int
    }

    private static let floatLayouts: [(size: Int, layout: FloatLayout, dtype: DType)] = [
        (2, FloatLayout(signPosition: 15, exponentPosition: 10, exponentSize: 5, mantissaPosition: 0, mantissaSize: 10, exponentBias: 15), .float16),
        (2, FloatLayout(signPosition: 15, exponentPosition: 7, exponentSize: 8, mantissaPosition: 0, mantissaSize: 7, exponentBias: 127), .bfloat16),
        (4, FloatLayout(signPosition: 31, exponentPosition: 23, exponentSize: 8, mantissaPosition: 0, mantissaSize: 23, exponentBias: 127), .float32),
        (8, FloatLayout(signPosition: 63, exponentPosition: 52, exponentSize: 11, mantissaPosition: 0, mantissaSize: 52, exponentBias: 1023), .float64),
    ]

    /// The `DType` of an HDF5 datatype, or `unsupportedFormat` naming the dataset.
    static func dtype(of type: hid_t, dataset: String, path: String) throws -> DType {
        let size = H5Tget_size(type)
        let typeClass = H5Tget_class(type)
        func unsupported(_ what: String) -> ModelIOError {
            .unsupportedFormat(path: path, reason: "dataset '\(dataset)' stores \(what), which has no DType")
        }
        switch typeClass {
        case H5T_FLOAT:
            var sign = 0, exponentPosition = 0, exponentSize = 0, mantissaPosition = 0, mantissaSize = 0
            guard H5Tget_fields(type, &sign, &exponentPosition, &exponentSize, &mantissaPosition, &mantissaSize) >= 0 else {
                throw HDF5Library.failure(path: path, object: dataset, operation: "H5Tget_fields")
            }
            let layout = FloatLayout(
                signPosition: sign, exponentPosition: exponentPosition, exponentSize: exponentSize,
                mantissaPosition: mantissaPosition, mantissaSize: mantissaSize, exponentBias: H5Tget_ebias(type))
            let precision = H5Tget_precision(type)
            if H5Tget_offset(type) == 0, precision == size * 8,
               let match = floatLayouts.first(where: { $0.size == size && $0.layout == layout }) {
                return match.dtype
            }
            throw unsupported("a \(size)-byte float with a non-IEEE bit layout")
        case H5T_INTEGER:
            guard H5Tget_offset(type) == 0, H5Tget_precision(type) == size * 8 else {
                throw unsupported("an integer with \(H5Tget_precision(type)) significant bits in \(size) bytes")
            }
            if H5Tget_sign(type) == H5T_SGN_NONE {
                guard size == 1 else { throw unsupported("an unsigned \(size * 8)-bit integer") }
                return .uint8
            }
            switch size {
            case 1: return .int8
            case 2: return .int16
            case 4: return .int32
            case 8: return .int64
            default: throw unsupported("a \(size * 8)-bit integer")
            }
        case H5T_ENUM:
            if try isBooleanEnum(type, dataset: dataset, path: path) { return .bool }
            throw unsupported("an enumeration other than a FALSE/TRUE boolean")
        default:
            throw unsupported("HDF5 datatype class \(className(typeClass))")
        }
    }

    /// True for h5py's boolean encoding: a 1-byte enum with exactly the values 0 and 1.
    private static func isBooleanEnum(_ type: hid_t, dataset: String, path: String) throws -> Bool {
        guard H5Tget_size(type) == 1, H5Tget_nmembers(type) == 2 else { return false }
        var values: [Int8] = []
        for member in 0..<UInt32(2) {
            var value: Int8 = 0
            guard H5Tget_member_value(type, member, &value) >= 0 else {
                throw HDF5Library.failure(path: path, object: dataset, operation: "H5Tget_member_value")
            }
            values.append(value)
        }
        return values.sorted() == [0, 1]
    }

    private static func className(_ typeClass: H5T_class_t) -> String {
        switch typeClass {
        case H5T_TIME: return "time"
        case H5T_STRING: return "string"
        case H5T_BITFIELD: return "bitfield"
        case H5T_OPAQUE: return "opaque"
        case H5T_COMPOUND: return "compound"
        case H5T_REFERENCE: return "reference"
        case H5T_VLEN: return "variable-length"
        case H5T_ARRAY: return "array"
        default: return "#\(typeClass.rawValue)"
        }
    }

    /// The shape of a dataspace ([] for a scalar). Rejects null dataspaces and extents that
    /// overflow `Int` when multiplied by `elementSize`.
    static func shape(of space: hid_t, elementSize: Int, dataset: String, path: String) throws -> [Int] {
        let spaceClass = H5Sget_simple_extent_type(space)
        if spaceClass == H5S_SCALAR { return [] }
        guard spaceClass == H5S_SIMPLE else {
            throw ModelIOError.unsupportedFormat(path: path, reason: "dataset '\(dataset)' has an empty (null) dataspace")
        }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else { throw HDF5Library.failure(path: path, object: dataset, operation: "H5Sget_simple_extent_ndims") }
        var extents = [hsize_t](repeating: 0, count: Int(rank))
        guard H5Sget_simple_extent_dims(space, &extents, nil) >= 0 else {
            throw HDF5Library.failure(path: path, object: dataset, operation: "H5Sget_simple_extent_dims")
        }
        var total = elementSize
        var shape: [Int] = []
        for extent in extents {
            guard extent <= UInt64(Int.max) else {
                throw ModelIOError.invalidHeader(path: path, reason: "dataset '\(dataset)' has extent \(extent)")
            }
            let (product, overflow) = total.multipliedReportingOverflow(by: Int(extent))
            guard !overflow else {
                throw ModelIOError.invalidHeader(path: path, reason: "dataset '\(dataset)' is too large (\(extents))")
            }
            total = product
            shape.append(Int(extent))
        }
        return shape
    }

    /// Name, dtype and shape of the dataset at `location` (a path inside the file), to be
    /// listed as `name`.
    static func describe(file: hid_t, location: String, name: String, path: String) throws -> TensorInfo {
        let dataset = try HDF5Library.check(H5Dopen2(file, location, aimet_H5P_DEFAULT), path: path, object: location, operation: "H5Dopen2")
        defer { H5Dclose(dataset) }
        let type = try HDF5Library.check(H5Dget_type(dataset), path: path, object: location, operation: "H5Dget_type")
        defer { H5Tclose(type) }
        let dtype = try self.dtype(of: type, dataset: location, path: path)
        let space = try HDF5Library.check(H5Dget_space(dataset), path: path, object: location, operation: "H5Dget_space")
        defer { H5Sclose(space) }
        let shape = try self.shape(of: space, elementSize: dtype.byteSize, dataset: location, path: path)
        return TensorInfo(name: name, dtype: dtype, shape: shape)
    }

    /// Reads every element of the dataset at `location` into `buffer` as contiguous
    /// little-endian values of `info.dtype`. Big-endian data is converted by the library
    /// (the memory type is the file type with little-endian byte order).
    static func read(
        file: hid_t, location: String, info: TensorInfo, into buffer: UnsafeMutableRawBufferPointer, path: String
    ) throws {
        let dataset = try HDF5Library.check(H5Dopen2(file, location, aimet_H5P_DEFAULT), path: path, object: location, operation: "H5Dopen2")
        defer { H5Dclose(dataset) }
        let type = try HDF5Library.check(H5Dget_type(dataset), path: path, object: location, operation: "H5Dget_type")
        defer { H5Tclose(type) }
        let space = try HDF5Library.check(H5Dget_space(dataset), path: path, object: location, operation: "H5Dget_space")
        defer { H5Sclose(space) }
        let storedDType = try dtype(of: type, dataset: location, path: path)
        let shape = try self.shape(of: space, elementSize: storedDType.byteSize, dataset: location, path: path)
        guard storedDType == info.dtype, shape == info.shape, buffer.count == info.byteCount else {
            throw ModelIOError.invalidHeader(path: path, reason: "dataset '\(location)' changed while the file was open")
        }
        if info.elementCount == 0 { return }
        let memoryType = try HDF5Library.check(H5Tcopy(type), path: path, object: location, operation: "H5Tcopy")
        defer { H5Tclose(memoryType) }
        if H5Tget_class(type) != H5T_ENUM, H5Tget_order(type) != H5T_ORDER_LE {
            try HDF5Library.check(H5Tset_order(memoryType, H5T_ORDER_LE), path: path, object: location, operation: "H5Tset_order")
        }
        try HDF5Library.check(
            H5Dread(dataset, memoryType, aimet_H5S_ALL, aimet_H5S_ALL, aimet_H5P_DEFAULT, buffer.baseAddress),
            path: path, object: location, operation: "H5Dread")
    }
}

/// The order tensors are listed in when a file does not define one: paths compared one
/// `/`-separated component at a time; components made only of ASCII digits come before
/// other components and compare by numeric value (so `vars/9` comes before `vars/10`;
/// equal values such as `010` and `10` by their bytes); other components compare by
/// UTF-8 bytes (the order of HDF5's name index); a path comes before the paths below it.
enum HDF5NaturalOrder {
    /// True when `left` sorts before `right`.
    static func precedes(_ left: String, _ right: String) -> Bool {
        let leftComponents = left.split(separator: "/", omittingEmptySubsequences: false)
        let rightComponents = right.split(separator: "/", omittingEmptySubsequences: false)
        for (leftComponent, rightComponent) in zip(leftComponents, rightComponents) where leftComponent != rightComponent {
            return componentPrecedes(Array(leftComponent.utf8), Array(rightComponent.utf8))
        }
        return leftComponents.count < rightComponents.count
    }

    private static func componentPrecedes(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        let isNumber = { (bytes: [UInt8]) in !bytes.isEmpty && bytes.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        switch (isNumber(left), isNumber(right)) {
        case (true, false): return true
        case (false, true): return false
        case (true, true):
            let leftDigits = left.drop { $0 == 0x30 }
            let rightDigits = right.drop { $0 == 0x30 }
            if leftDigits.count != rightDigits.count { return leftDigits.count < rightDigits.count }
            if leftDigits != rightDigits { return leftDigits.lexicographicallyPrecedes(rightDigits) }
        case (false, false): break
        }
        return left.lexicographicallyPrecedes(right)
    }

    /// `paths` sorted in natural order.
    static func sorted(_ paths: [String]) -> [String] {
        paths.sorted(by: precedes)
    }
}

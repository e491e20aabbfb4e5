import QuantCore

/// The parsed and fully validated header of one safetensors file.
///
/// Layout of the file: an 8-byte little-endian header length `n`, `n` bytes of UTF-8 JSON,
/// then the data section. Every tensor's `data_offsets` are relative to the data section.
struct SafetensorsHeader: Sendable {
    /// One tensor entry of the header.
    struct Entry: Sendable {
        let info: TensorInfo
        /// Byte range inside the data section.
        let range: Range<Int>
    }

    /// Largest header accepted, as in the reference implementation (100 MB).
    static let maximumHeaderLength = 100_000_000

    /// Tensors sorted by data offset (begin, then end; header order breaks ties).
    let entries: [Entry]
    /// `__metadata__`, or an empty object.
    let metadata: JSONObject
    /// File offset of the data section (8 + header length).
    let dataStart: Int

    /// Parses and validates the header at the start of `file`.
    init(file: UnsafeRawBufferPointer, path: String) throws {
        guard file.count >= 8 else {
            throw ModelIOError.truncated(
                path: path, reason: "\(file.count) bytes, but the header length alone takes 8")
        }
        let declared = UInt64(littleEndian: file.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard declared <= UInt64(SafetensorsHeader.maximumHeaderLength) else {
            throw ModelIOError.invalidHeader(
                path: path,
                reason: "header length \(declared) exceeds the limit of \(SafetensorsHeader.maximumHeaderLength) bytes")
        }
        let headerLength = Int(declared)
        guard headerLength <= file.count - 8 else {
            throw ModelIOError.truncated(
                path: path,
                reason: "header length \(headerLength) but only \(file.count - 8) bytes follow the length field")
        }
        dataStart = 8 + headerLength
        let dataSize = file.count - dataStart
        let json = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: file[8..<dataStart]), path: path)
        guard case let .object(root) = json else {
            throw ModelIOError.invalidHeader(path: path, reason: "the header is not a JSON object")
        }

        var metadata = JSONObject()
        var unsorted: [Entry] = []
        unsorted.reserveCapacity(root.count)
        for (name, value) in root.entries {
            if name == "__metadata__" {
                metadata = try SafetensorsHeader.validatedMetadata(value, path: path)
                continue
            }
            unsorted.append(try SafetensorsHeader.entry(named: name, value, dataSize: dataSize, path: path))
        }
        self.metadata = metadata
        // A stable sort keeps the header order for tensors at the same offsets (empty tensors).
        let sorted = unsorted.enumerated().sorted { left, right in
            let a = left.element.range, b = right.element.range
            if a.lowerBound != b.lowerBound { return a.lowerBound < b.lowerBound }
            if a.upperBound != b.upperBound { return a.upperBound < b.upperBound }
            return left.offset < right.offset
        }.map(\.element)
        try SafetensorsHeader.checkNoOverlap(sorted, path: path)
        entries = sorted
    }

    /// `__metadata__` must map strings to strings.
    private static func validatedMetadata(_ value: JSONValue, path: String) throws -> JSONObject {
        guard case let .object(object) = value else {
            throw ModelIOError.invalidHeader(path: path, reason: "__metadata__ is not a JSON object")
        }
        for (key, member) in object.entries where member.stringValue == nil {
            throw ModelIOError.invalidHeader(
                path: path, reason: "__metadata__ value of '\(key)' is not a string")
        }
        return object
    }

    /// Validates one tensor entry: dtype, shape, offsets and their agreement.
    private static func entry(named name: String, _ value: JSONValue, dataSize: Int, path: String) throws -> Entry {
        func invalid(_ reason: String) -> ModelIOError {
            .invalidHeader(path: path, reason: "tensor '\(name)': \(reason)")
        }
        guard case let .object(object) = value else { throw invalid("entry is not a JSON object") }

        guard let dtypeValue = object["dtype"] else { throw invalid("missing 'dtype'") }
        guard let dtypeName = dtypeValue.stringValue else { throw invalid("'dtype' is not a string") }
        guard let dtype = DType(safetensorsName: dtypeName) else {
            throw ModelIOError.unknownDType(path: path, tensor: name, dtype: dtypeName)
        }

        guard let shapeValue = object["shape"] else { throw invalid("missing 'shape'") }
        guard let dimensions = shapeValue.arrayValue else { throw invalid("'shape' is not an array") }
        var shape: [Int] = []
        shape.reserveCapacity(dimensions.count)
        var elementCount = 1
        for dimension in dimensions {
            let extent = try nonNegativeInteger(dimension, field: "shape", tensor: name, path: path)
            shape.append(extent)
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw invalid("shape \(shape)... has more elements than fit in an integer") }
            elementCount = product
        }
        let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw invalid("shape \(shape) of \(dtypeName) needs more bytes than fit in an integer") }

        guard let offsetsValue = object["data_offsets"] else { throw invalid("missing 'data_offsets'") }
        guard let offsets = offsetsValue.arrayValue, offsets.count == 2 else {
            throw invalid("'data_offsets' is not an array of two integers")
        }
        let begin = try nonNegativeInteger(offsets[0], field: "data_offsets", tensor: name, path: path)
        let end = try nonNegativeInteger(offsets[1], field: "data_offsets", tensor: name, path: path)
        guard begin <= end else {
            throw ModelIOError.tensorOutOfBounds(
                path: path, tensor: name, reason: "data_offsets begin \(begin) is after end \(end)")
        }
        guard end <= dataSize else {
            throw ModelIOError.tensorOutOfBounds(
                path: path, tensor: name,
                reason: "data_offsets end \(end) is past the data section of \(dataSize) bytes")
        }
        guard end - begin == byteCount else {
            throw ModelIOError.byteCountMismatch(path: path, tensor: name, expected: byteCount, actual: end - begin)
        }
        return Entry(info: TensorInfo(name: name, dtype: dtype, shape: shape), range: begin..<end)
    }

    private static func nonNegativeInteger(
        _ value: JSONValue, field: String, tensor: String, path: String
    ) throws -> Int {
        guard case let .number(text) = value else {
            throw ModelIOError.invalidHeader(
                path: path, reason: "tensor '\(tensor)': '\(field)' holds a non-number")
        }
        guard let integer = value.intValue else {
            throw ModelIOError.invalidHeader(
                path: path,
                reason: "tensor '\(tensor)': '\(field)' value \(text) is not an integer that fits in 64 bits")
        }
        guard integer >= 0 else {
            throw ModelIOError.invalidHeader(
                path: path, reason: "tensor '\(tensor)': '\(field)' value \(integer) is negative")
        }
        return integer
    }

    /// Tensors sorted by begin offset must not share bytes. Empty tensors claim no bytes.
    private static func checkNoOverlap(_ sorted: [Entry], path: String) throws {
        var furthest: Entry?
        for entry in sorted where !entry.range.isEmpty {
            if let previous = furthest, entry.range.lowerBound < previous.range.upperBound {
                throw ModelIOError.overlappingTensors(path: path, first: previous.info.name, second: entry.info.name)
            }
            if furthest == nil || entry.range.upperBound > furthest!.range.upperBound {
                furthest = entry
            }
        }
    }
}

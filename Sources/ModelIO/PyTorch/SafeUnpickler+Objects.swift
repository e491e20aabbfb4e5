import QuantCore

/// Globals, calls, persistent ids and the text encodings of protocol 0.
extension PickleMachine {
    // MARK: - Globals and calls

    func resolveGlobal(module: String, name: String) throws -> PickleGlobal {
        guard let global = PickleGlobal(module: module, name: name) else {
            throw ModelIOError.forbiddenPickleGlobal(path: path, module: module, name: name)
        }
        return global
    }

    /// REDUCE / NEWOBJ / OBJ: `callable(*arguments)` for the allow-listed callables only.
    mutating func call(_ callable: PickleValue, argumentTuple: PickleValue) throws -> PickleValue {
        guard case .tuple(let index) = argumentTuple else {
            throw invalid("arguments must be a tuple, got \(argumentTuple.kindName)")
        }
        return try call(callable, arguments: document.tuples[index])
    }

    mutating func call(_ callable: PickleValue, arguments: [PickleValue]) throws -> PickleValue {
        guard case .global(let global) = callable else {
            throw invalid("\(callable.kindName) is not callable")
        }
        return try call(global, arguments: arguments)
    }

    mutating func call(_ global: PickleGlobal, arguments: [PickleValue]) throws -> PickleValue {
        switch global {
        case .orderedDict:
            var pairs: [PickleValue] = []
            if arguments.count == 1, let items = document.sequence(arguments[0]) {
                for item in items {
                    guard let pair = document.sequence(item), pair.count == 2 else {
                        throw invalid("OrderedDict items must be pairs")
                    }
                    pairs += pair
                }
            } else if !arguments.isEmpty {
                throw invalid("OrderedDict takes no arguments or one list of pairs")
            }
            return .dict(try newDictionary(pairs: pairs))
        case .rebuildTensorV2:
            guard arguments.count == 6 || arguments.count == 7 else {
                throw invalid("_rebuild_tensor_v2 takes 6 or 7 arguments, got \(arguments.count)")
            }
            return try rebuildTensor(arguments)
        case .rebuildParameter, .rebuildParameterWithState:
            let expected = global == .rebuildParameter ? 3 : 4
            guard arguments.count == expected else {
                throw invalid("\(global.qualifiedName) takes \(expected) arguments, got \(arguments.count)")
            }
            guard case .tensor = arguments[0] else {
                throw invalid("\(global.qualifiedName) needs a tensor, got \(arguments[0].kindName)")
            }
            return arguments[0]
        case .storageType:
            throw invalid("\(global.qualifiedName) may appear only inside a persistent id")
        }
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`
    mutating func rebuildTensor(_ arguments: [PickleValue]) throws -> PickleValue {
        guard case .storage(let storage) = arguments[0] else {
            throw invalid("_rebuild_tensor_v2 needs a storage, got \(arguments[0].kindName)")
        }
        let offset = try nonNegativeInteger(arguments[1], what: "storage offset")
        let shape = try integerTuple(arguments[2], what: "size")
        let stride = try integerTuple(arguments[3], what: "stride")
        guard shape.count == stride.count else {
            throw invalid("size has \(shape.count) axes but stride has \(stride.count)")
        }
        guard shape.count <= limits.maximumTensorRank else {
            throw invalid("tensor has \(shape.count) axes, more than \(limits.maximumTensorRank)")
        }
        document.tensors.append(PickleTensor(storage: storage, storageOffset: offset, shape: shape, stride: stride))
        return .tensor(document.tensors.count - 1)
    }

    func nonNegativeInteger(_ value: PickleValue, what: String) throws -> Int {
        guard case .int(let integer) = value, integer >= 0 else {
            throw invalid("\(what) must be a non-negative integer, got \(value.kindName)")
        }
        return Int(integer)
    }

    func integerTuple(_ value: PickleValue, what: String) throws -> [Int] {
        guard case .tuple(let index) = value else {
            throw invalid("\(what) must be a tuple, got \(value.kindName)")
        }
        return try document.tuples[index].map { try nonNegativeInteger($0, what: "\(what) entry") }
    }

    /// BUILD: state on an OrderedDict (a state dict's `_metadata`) or on a tensor is
    /// accepted and ignored; BUILD on anything else is refused.
    func build(_ target: PickleValue, state: PickleValue) throws {
        switch target {
        case .dict, .tensor: return
        default: throw invalid("cannot set state on \(target.kindName)")
        }
    }

    /// BINPERSID: `('storage', torch.<X>Storage, key, location, element count[, view])`.
    mutating func persistentLoad(_ identifier: PickleValue) throws -> PickleValue {
        guard case .tuple(let index) = identifier else {
            throw invalid("persistent id must be a tuple, got \(identifier.kindName)")
        }
        let fields = document.tuples[index]
        guard fields.count == 5 || fields.count == 6, fields[0] == .string("storage") else {
            throw invalid("persistent id is not a ('storage', type, key, location, size) tuple")
        }
        guard case .global(.storageType(let dtype)) = fields[1] else {
            throw invalid("persistent id names \(fields[1].kindName) instead of a storage type")
        }
        guard case .string(let key) = fields[2], case .string(let location) = fields[3] else {
            throw invalid("storage key and location must be strings")
        }
        let count = try nonNegativeInteger(fields[4], what: "storage size")
        var viewOffset = 0, viewCount = count
        if fields.count == 6, fields[5] != .none {
            guard let view = document.sequence(fields[5]), view.count == 3, case .string = view[0] else {
                throw invalid("storage view must be (key, offset, size)")
            }
            viewOffset = try nonNegativeInteger(view[1], what: "view offset")
            viewCount = try nonNegativeInteger(view[2], what: "view size")
            guard viewOffset <= count, viewCount <= count - viewOffset else {
                throw invalid("storage view [\(viewOffset), +\(viewCount)) lies outside storage '\(key)' of \(count) elements")
            }
        }
        return .storage(PickleStorageReference(
            key: key, dtype: dtype, location: location, elementCount: count,
            viewOffset: viewOffset, viewCount: viewCount))
    }

    // MARK: - Containers

    mutating func newDictionary(pairs: [PickleValue]) throws -> Int {
        guard pairs.count % 2 == 0 else { throw invalid("odd number of items for a dict") }
        var dictionary = PickleDictionary()
        for start in stride(from: 0, to: pairs.count, by: 2) { dictionary.set(pairs[start], pairs[start + 1]) }
        document.dicts.append(dictionary)
        return document.dicts.count - 1
    }

    mutating func append(_ items: [PickleValue], to target: PickleValue) throws {
        guard case .list(let index) = target else { throw invalid("cannot append to \(target.kindName)") }
        document.lists[index].append(contentsOf: items)
    }

    mutating func setItems(_ items: [PickleValue], in target: PickleValue) throws {
        guard case .dict(let index) = target else { throw invalid("cannot set items on \(target.kindName)") }
        guard items.count % 2 == 0 else { throw invalid("odd number of items for a dict") }
        for start in stride(from: 0, to: items.count, by: 2) {
            document.dicts[index].set(items[start], items[start + 1])
        }
    }

    // MARK: - Scalars

    /// LONG1/LONG4 payload: little-endian two's complement of any width. Values that fit
    /// 64 bits become `.int`; wider ones `.bigInteger` with redundant sign bytes removed.
    static func integer(fromLittleEndian raw: UnsafeRawBufferPointer) -> PickleValue {
        guard let last = raw.last else { return .int(0) }
        let negative = last & 0x80 != 0
        let extensionByte: UInt8 = negative ? 0xFF : 0x00
        var length = raw.count
        while length > 1, raw[length - 1] == extensionByte, (raw[length - 2] & 0x80 != 0) == negative {
            length -= 1
        }
        guard length <= 8 else { return .bigInteger(Array(raw[0..<length])) }
        var bits: UInt64 = negative ? ~0 : 0
        for index in stride(from: length - 1, through: 0, by: -1) {
            bits = bits << 8 | UInt64(raw[index])
        }
        return .int(Int64(bitPattern: bits))
    }

    func parseTextInteger(_ line: String) throws -> PickleValue {
        if line == "00" { return .bool(false) }
        if line == "01" { return .bool(true) }
        guard let value = Int64(line) else { throw invalid("'\(line.prefix(40))' is not a 64-bit integer") }
        return .int(value)
    }

    /// LONG: decimal text with an optional trailing `L`, of any size.
    func parseTextLong(_ line: String) throws -> PickleValue {
        let text = line.hasSuffix("L") ? String(line.dropLast()) : line
        if let value = Int64(text) { return .int(value) }
        let negative = text.hasPrefix("-")
        let digits = (negative || text.hasPrefix("+")) ? text.utf8.dropFirst() : text.utf8[...]
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw invalid("'\(line.prefix(40))' is not an integer")
        }
        // Magnitude as little-endian bytes, then two's complement with a sign byte.
        var magnitude: [UInt8] = [0]
        for digit in digits {
            var carry = UInt16(digit - 0x30)
            for index in magnitude.indices {
                let product = UInt16(magnitude[index]) * 10 + carry
                magnitude[index] = UInt8(truncatingIfNeeded: product)
                carry = product >> 8
            }
            if carry > 0 { magnitude.append(UInt8(carry)) }
        }
        magnitude.append(0)
        if negative {
            var carry: UInt16 = 1
            for index in magnitude.indices {
                let sum = UInt16(~magnitude[index]) + carry
                magnitude[index] = UInt8(truncatingIfNeeded: sum)
                carry = sum >> 8
            }
        }
        return magnitude.withUnsafeBytes { PickleMachine.integer(fromLittleEndian: $0) }
    }

    func parseMemoIndex(_ line: String) throws -> UInt64 {
        guard let index = UInt64(line) else { throw invalid("'\(line.prefix(40))' is not a memo index") }
        return index
    }

    mutating func readUTF8(_ count: Int) throws -> String {
        let raw = try readBytes(count)
        let text = String(decoding: raw, as: UTF8.self)
        guard text.utf8.elementsEqual(raw) else { throw invalid("string is not valid UTF-8") }
        return text
    }

    /// Python 2 `str` payloads: text when they are UTF-8, bytes otherwise.
    func legacyString<Bytes: Collection>(_ raw: Bytes) -> PickleValue where Bytes.Element == UInt8 {
        let text = String(decoding: raw, as: UTF8.self)
        return text.utf8.elementsEqual(raw) ? .string(text) : .bytes(Array(raw))
    }

    /// STRING: a Python `repr` of a byte string, e.g. `'abc\n'`.
    func parseQuotedString(_ raw: [UInt8]) throws -> [UInt8] {
        guard raw.count >= 2, let quote = raw.first, quote == 0x27 || quote == 0x22, raw.last == quote else {
            throw invalid("STRING argument is not quoted")
        }
        var output: [UInt8] = []
        var index = 1
        while index < raw.count - 1 {
            let byte = raw[index]
            index += 1
            guard byte == 0x5C else { output.append(byte); continue }
            guard index < raw.count - 1 else { throw invalid("STRING ends inside an escape") }
            let escape = raw[index]
            index += 1
            switch escape {
            case 0x5C, 0x27, 0x22: output.append(escape)
            case 0x6E: output.append(0x0A)
            case 0x72: output.append(0x0D)
            case 0x74: output.append(0x09)
            case 0x78:  // \xhh
                guard index + 2 <= raw.count - 1, let value = UInt8(String(decoding: raw[index..<index + 2], as: UTF8.self), radix: 16) else {
                    throw invalid("bad \\x escape in STRING")
                }
                output.append(value)
                index += 2
            default: throw invalid("unsupported escape in STRING")
            }
        }
        return output
    }

    /// UNICODE: raw-unicode-escape text (latin-1 bytes plus `\uXXXX` / `\UXXXXXXXX`).
    func parseRawUnicodeEscape(_ raw: [UInt8]) throws -> String {
        var scalars = String.UnicodeScalarView()
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            if byte == 0x5C, index + 1 < raw.count, raw[index + 1] == 0x75 || raw[index + 1] == 0x55 {
                let width = raw[index + 1] == 0x75 ? 4 : 8
                guard index + 2 + width <= raw.count,
                      let code = UInt32(String(decoding: raw[index + 2..<index + 2 + width], as: UTF8.self), radix: 16),
                      let scalar = Unicode.Scalar(code) else {
                    throw invalid("bad \\u escape in UNICODE")
                }
                scalars.append(scalar)
                index += 2 + width
            } else {
                scalars.append(Unicode.Scalar(byte))
                index += 1
            }
        }
        return String(scalars)
    }
}

/// A pickle virtual machine that never executes code: the counterpart of
/// `torch.load(weights_only=True)`.
///
/// It understands the opcodes of protocols 0–5 that state dicts use. Globals are checked
/// against `PickleGlobal`'s allow-list (anything else throws
/// `ModelIOError.forbiddenPickleGlobal`), REDUCE/NEWOBJ call only the allowed rebuild
/// functions, persistent ids must be torch storage tuples, and every length is checked
/// against the remaining input. Malformed input throws `invalidPickle` (naming the
/// opcode and its byte offset) or `truncated`; it never traps.
public enum SafeUnpickler {
    /// Resource limits that keep hostile input from exhausting memory.
    public struct Limits: Sendable {
        /// Most values on the stack at once (marks included).
        public var maximumStackDepth: Int
        /// Most nested MARKs.
        public var maximumMarkDepth: Int
        /// Most memo entries.
        public var maximumMemoEntries: Int
        /// Most axes of a tensor.
        public var maximumTensorRank: Int

        public init(
            maximumStackDepth: Int = 1 << 20, maximumMarkDepth: Int = 4096,
            maximumMemoEntries: Int = 1 << 22, maximumTensorRank: Int = 64
        ) {
            self.maximumStackDepth = maximumStackDepth
            self.maximumMarkDepth = maximumMarkDepth
            self.maximumMemoEntries = maximumMemoEntries
            self.maximumTensorRank = maximumTensorRank
        }
    }

    /// Parses the single pickle at the start of `bytes`; bytes after its STOP are ignored.
    ///
    /// This is the entry point a fuzzer can call with arbitrary bytes: it either returns
    /// a document or throws a `ModelIOError`, whatever the input.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, path: String, limits: Limits = Limits()
    ) throws -> PickleDocument {
        try parse(bytes, from: 0, path: path, limits: limits).document
    }

    /// Parses the pickle starting at byte `start` of `bytes` and returns it with the
    /// offset just past its STOP opcode. Error offsets count from the start of `bytes`.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, from start: Int, path: String, limits: Limits = Limits()
    ) throws -> (document: PickleDocument, end: Int) {
        var machine = PickleMachine(bytes: bytes, position: start, path: path, limits: limits)
        let document = try machine.run()
        return (document, machine.position)
    }
}

/// The state of one run of the pickle virtual machine.
struct PickleMachine {
    let bytes: UnsafeRawBufferPointer
    var position: Int
    let path: String
    let limits: SafeUnpickler.Limits
    var stack: [PickleValue] = []
    var marks: [Int] = []
    var memo: [UInt32: PickleValue] = [:]
    var document = PickleDocument()
    /// Offset of the opcode being executed, for error messages.
    var opcodeOffset = 0
    var opcodeName = ""

    init(bytes: UnsafeRawBufferPointer, position: Int, path: String, limits: SafeUnpickler.Limits) {
        self.bytes = bytes
        self.position = position
        self.path = path
        self.limits = limits
    }

    // MARK: - Errors

    func invalid(_ reason: String) -> ModelIOError {
        .invalidPickle(path: path, offset: opcodeOffset, reason: opcodeName.isEmpty ? reason : "\(opcodeName): \(reason)")
    }

    // MARK: - Reading input

    mutating func readBytes(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count >= 0 else { throw invalid("negative length \(count)") }
        guard count <= bytes.count - position else {
            throw ModelIOError.truncated(
                path: path,
                reason: "pickle opcode \(opcodeName) at byte \(opcodeOffset) needs \(count) bytes at byte \(position), only \(bytes.count - position) remain")
        }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
        position += count
        return slice
    }

    mutating func readByte() throws -> UInt8 { try readBytes(1)[0] }

    mutating func readUnsigned(_ width: Int) throws -> UInt64 {
        let raw = try readBytes(width)
        var value: UInt64 = 0
        for index in stride(from: width - 1, through: 0, by: -1) { value = value << 8 | UInt64(raw[index]) }
        return value
    }

    /// A length field, checked against the bytes that remain.
    mutating func readLength(_ width: Int) throws -> Int {
        let length = try readUnsigned(width)
        guard length <= UInt64(bytes.count - position) else {
            throw ModelIOError.truncated(
                path: path,
                reason: "pickle opcode \(opcodeName) at byte \(opcodeOffset) announces \(length) bytes, only \(bytes.count - position) remain")
        }
        return Int(length)
    }

    /// The bytes of a text line (without its newline) for the protocol-0 opcodes.
    mutating func readLineBytes() throws -> [UInt8] {
        guard let newline = bytes[position...].firstIndex(of: 0x0A) else {
            throw ModelIOError.truncated(path: path, reason: "pickle opcode \(opcodeName) at byte \(opcodeOffset) has no end of line")
        }
        let line = Array(bytes[position..<newline])
        position = newline + 1
        return line
    }

    /// A text line decoded as UTF-8.
    mutating func readLine() throws -> String {
        String(decoding: try readLineBytes(), as: UTF8.self)
    }

    // MARK: - Stack

    mutating func push(_ value: PickleValue) throws {
        guard stack.count < limits.maximumStackDepth else {
            throw invalid("stack deeper than \(limits.maximumStackDepth) values")
        }
        stack.append(value)
    }

    mutating func pop() throws -> PickleValue {
        guard let value = stack.popLast() else { throw invalid("stack is empty") }
        if let mark = marks.last, stack.count < mark { throw invalid("pops past a MARK") }
        return value
    }

    func top() throws -> PickleValue {
        guard let value = stack.last else { throw invalid("stack is empty") }
        if let mark = marks.last, stack.count <= mark { throw invalid("the top of the stack is a MARK") }
        return value
    }

    /// Removes and returns the values above the innermost MARK, and the MARK itself.
    mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw invalid("no MARK on the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    mutating func makeTuple(_ items: [PickleValue]) -> PickleValue {
        document.tuples.append(items)
        return .tuple(document.tuples.count - 1)
    }

    mutating func memoize(_ index: UInt64) throws {
        guard index <= UInt64(UInt32.max) else { throw invalid("memo index \(index) is too large") }
        let value = try top()
        if memo.updateValue(value, forKey: UInt32(index)) == nil, memo.count > limits.maximumMemoEntries {
            throw invalid("more than \(limits.maximumMemoEntries) memo entries")
        }
    }

    mutating func recall(_ index: UInt64) throws {
        guard index <= UInt64(UInt32.max), let value = memo[UInt32(index)] else {
            throw invalid("memo index \(index) was never stored")
        }
        try push(value)
    }

    // MARK: - Main loop

    mutating func run() throws -> PickleDocument {
        while true {
            opcodeOffset = position
            opcodeName = ""
            guard position < bytes.count else {
                throw ModelIOError.truncated(path: path, reason: "pickle ends at byte \(position) before its STOP opcode")
            }
            let opcode = bytes[position]
            position += 1
            guard let name = PickleMachine.opcodeNames[opcode] else {
                throw ModelIOError.invalidPickle(
                    path: path, offset: opcodeOffset,
                    reason: "unknown opcode 0x\(String(opcode, radix: 16, uppercase: true))")
            }
            opcodeName = name
            if opcode == 0x2E {  // STOP
                let result = try pop()
                guard marks.isEmpty else { throw invalid("a MARK is still open") }
                document.root = result
                return document
            }
            try execute(opcode)
        }
    }

    mutating func execute(_ opcode: UInt8) throws {
        switch opcode {
        case 0x80:  // PROTO
            let version = try readByte()
            guard version <= 5 else { throw invalid("protocol \(version) is newer than 5") }
            document.protocolVersion = Int(version)
        case 0x95:  // FRAME: frames are transparent; only check the length.
            _ = try readLength(8)
        case 0x28:  // MARK
            guard marks.count < limits.maximumMarkDepth else {
                throw invalid("more than \(limits.maximumMarkDepth) nested MARKs")
            }
            marks.append(stack.count)
        case 0x30: _ = try pop()  // POP
        case 0x31: _ = try popToMark()  // POP_MARK
        case 0x32: try push(try top())  // DUP
        case 0x4E: try push(.none)  // NONE
        case 0x88: try push(.bool(true))  // NEWTRUE
        case 0x89: try push(.bool(false))  // NEWFALSE
        case 0x4A:  // BININT
            try push(.int(Int64(Int32(truncatingIfNeeded: try readUnsigned(4)))))
        case 0x4B: try push(.int(Int64(try readUnsigned(1))))  // BININT1
        case 0x4D: try push(.int(Int64(try readUnsigned(2))))  // BININT2
        case 0x8A: try push(PickleMachine.integer(fromLittleEndian: try readBytes(try readLength(1))))  // LONG1
        case 0x8B: try push(PickleMachine.integer(fromLittleEndian: try readBytes(try readLength(4))))  // LONG4
        case 0x47:  // BINFLOAT (big-endian double)
            let raw = try readBytes(8)
            var bits: UInt64 = 0
            for byte in raw { bits = bits << 8 | UInt64(byte) }
            try push(.float(Double(bitPattern: bits)))
        case 0x49: try push(try parseTextInteger(try readLine()))  // INT
        case 0x4C: try push(try parseTextLong(try readLine()))  // LONG
        case 0x46:  // FLOAT
            let line = try readLine()
            guard let value = Double(line) else { throw invalid("'\(line)' is not a float") }
            try push(.float(value))
        case 0x8C: try push(.string(try readUTF8(try readLength(1))))  // SHORT_BINUNICODE
        case 0x58: try push(.string(try readUTF8(try readLength(4))))  // BINUNICODE
        case 0x8D: try push(.string(try readUTF8(try readLength(8))))  // BINUNICODE8
        case 0x55: try push(legacyString(try readBytes(try readLength(1))))  // SHORT_BINSTRING
        case 0x54:  // BINSTRING (signed 32-bit length)
            let length = Int32(truncatingIfNeeded: try readUnsigned(4))
            guard length >= 0 else { throw invalid("negative length \(length)") }
            try push(legacyString(try readBytes(Int(length))))
        case 0x43: try push(.bytes(Array(try readBytes(try readLength(1)))))  // SHORT_BINBYTES
        case 0x42: try push(.bytes(Array(try readBytes(try readLength(4)))))  // BINBYTES
        case 0x8E: try push(.bytes(Array(try readBytes(try readLength(8)))))  // BINBYTES8
        case 0x53: try push(legacyString(try parseQuotedString(try readLineBytes())))  // STRING
        case 0x56: try push(.string(try parseRawUnicodeEscape(try readLineBytes())))  // UNICODE
        case 0x29: try push(makeTuple([]))  // EMPTY_TUPLE
        case 0x85: let first = try pop(); try push(makeTuple([first]))  // TUPLE1
        case 0x86:  // TUPLE2
            let second = try pop(), first = try pop()
            try push(makeTuple([first, second]))
        case 0x87:  // TUPLE3
            let third = try pop(), second = try pop(), first = try pop()
            try push(makeTuple([first, second, third]))
        case 0x74: try push(makeTuple(try popToMark()))  // TUPLE
        case 0x5D:  // EMPTY_LIST
            document.lists.append([])
            try push(.list(document.lists.count - 1))
        case 0x6C:  // LIST
            let items = try popToMark()
            document.lists.append(items)
            try push(.list(document.lists.count - 1))
        case 0x7D:  // EMPTY_DICT
            document.dicts.append(PickleDictionary())
            try push(.dict(document.dicts.count - 1))
        case 0x64:  // DICT
            let items = try popToMark()
            try push(.dict(try newDictionary(pairs: items)))
        case 0x61:  // APPEND
            let item = try pop()
            try append([item], to: try top())
        case 0x65:  // APPENDS
            let items = try popToMark()
            try append(items, to: try top())
        case 0x73:  // SETITEM
            let value = try pop(), key = try pop()
            try setItems([key, value], in: try top())
        case 0x75:  // SETITEMS
            let items = try popToMark()
            try setItems(items, in: try top())
        case 0x71: try memoize(try readUnsigned(1))  // BINPUT
        case 0x72: try memoize(try readUnsigned(4))  // LONG_BINPUT
        case 0x94: try memoize(UInt64(memo.count))  // MEMOIZE
        case 0x70: try memoize(try parseMemoIndex(try readLine()))  // PUT
        case 0x68: try recall(try readUnsigned(1))  // BINGET
        case 0x6A: try recall(try readUnsigned(4))  // LONG_BINGET
        case 0x67: try recall(try parseMemoIndex(try readLine()))  // GET
        case 0x63:  // GLOBAL
            let module = try readLine(), name = try readLine()
            try push(.global(try resolveGlobal(module: module, name: name)))
        case 0x93:  // STACK_GLOBAL
            let name = try pop(), module = try pop()
            guard case .string(let moduleText) = module, case .string(let nameText) = name else {
                throw invalid("module and name must be strings, got \(module.kindName) and \(name.kindName)")
            }
            try push(.global(try resolveGlobal(module: moduleText, name: nameText)))
        case 0x69:  // INST: class from text lines, arguments from the stack
            let module = try readLine(), name = try readLine()
            let callable = try resolveGlobal(module: module, name: name)
            let arguments = try popToMark()
            try push(try call(callable, arguments: arguments))
        case 0x6F:  // OBJ
            var items = try popToMark()
            guard !items.isEmpty else { throw invalid("no class on the stack") }
            let callable = items.removeFirst()
            try push(try call(callable, argumentTuple: makeTuple(items)))
        case 0x52:  // REDUCE
            let arguments = try pop(), callable = try pop()
            try push(try call(callable, argumentTuple: arguments))
        case 0x81:  // NEWOBJ
            let arguments = try pop(), callable = try pop()
            try push(try call(callable, argumentTuple: arguments))
        case 0x92:  // NEWOBJ_EX
            let keywords = try pop(), arguments = try pop(), callable = try pop()
            guard let dictionary = document.dictionary(keywords), dictionary.count == 0 else {
                throw invalid("keyword arguments are not supported")
            }
            try push(try call(callable, argumentTuple: arguments))
        case 0x62:  // BUILD
            let state = try pop()
            try build(try top(), state: state)
        case 0x51:  // BINPERSID
            let identifier = try pop()
            try push(try persistentLoad(identifier))
        case 0x50:  // PERSID
            _ = try readLine()
            throw invalid("text persistent ids are not torch storages")
        default:
            throw invalid("opcode 0x\(String(opcode, radix: 16, uppercase: true)) is not supported by the safe reader")
        }
    }

    /// Opcode names, for messages. Opcodes absent from this table are unknown.
    static let opcodeNames: [UInt8: String] = [
        0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT",
        0x49: "INT", 0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE",
        0x50: "PERSID", 0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING",
        0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD",
        0x63: "GLOBAL", 0x64: "DICT", 0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET",
        0x69: "INST", 0x6A: "LONG_BINGET", 0x6C: "LIST", 0x5D: "EMPTY_LIST", 0x6F: "OBJ", 0x70: "PUT",
        0x71: "BINPUT", 0x72: "LONG_BINPUT", 0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE",
        0x75: "SETITEMS", 0x47: "BINFLOAT", 0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2",
        0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE",
        0x8A: "LONG1", 0x8B: "LONG4", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8C: "SHORT_BINUNICODE",
        0x8D: "BINUNICODE8", 0x8E: "BINBYTES8", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
        0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8",
        0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
    ]
}

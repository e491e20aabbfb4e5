import Foundation
@testable import ModelIO
import QuantCore
import Testing

/// Small builders for hand-written pickles.
enum PickleBytes {
    static func unicode(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8)
        return [0x58] + littleEndian32(utf8.count) + utf8
    }

    static func global(_ module: String, _ name: String) -> [UInt8] {
        [0x63] + Array("\(module)\n\(name)\n".utf8)
    }

    static func littleEndian32(_ value: Int) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    static func parse(_ bytes: [UInt8], limits: SafeUnpickler.Limits = SafeUnpickler.Limits()) throws -> PickleDocument {
        try bytes.withUnsafeBytes { try SafeUnpickler.parse($0, path: "memory.pkl", limits: limits) }
    }

    static func fixture(_ name: String) throws -> [UInt8] {
        let url = FixturePaths.fixtures.appendingPathComponent("pytorch").appendingPathComponent(name)
        return Array(try Data(contentsOf: url))
    }
}

@Suite struct PickleTests {
    /// `PLAIN_OBJECT` of Tools/goldens/pytorch_goldens.py, pickled by CPython with each protocol.
    @Test(arguments: [0, 2, 4, 5])
    func plainObjectInEveryProtocol(protocolVersion: Int) throws {
        let document = try PickleBytes.parse(try PickleBytes.fixture("plain_protocol\(protocolVersion).pkl"))
        #expect(document.protocolVersion == protocolVersion)
        let root = try #require(document.dictionary(document.root))
        #expect(root.keys == ["a", "b", "big", "neg", "e"].map { PickleValue.string($0) })
        let listValue = try #require(root[string: "a"])
        let list = try #require(document.sequence(listValue))
        #expect(Array(list.prefix(6)) == [.int(1), .int(-2), .float(2.5), .string("x"), .bool(true), .none])
        #expect(document.sequence(list[6]) == [.int(1), .int(2)])
        let nestedValue = try #require(root[string: "b"])
        let nested = try #require(document.dictionary(nestedValue))
        #expect(nested[string: "nested"] == .string("z"))
        #expect(root[string: "big"] == .bigInteger([0, 0, 0, 0, 0, 0, 0, 0, 0x40]))
        #expect(root[string: "neg"] == .int(-(1 << 40)))
        #expect(root[string: "e"] == .string("é"))
    }

    @Test func hostileGlobalReduceIsRefused() throws {
        #expect(throws: ModelIOError.forbiddenPickleGlobal(path: "memory.pkl", module: "os", name: "system")) {
            try PickleBytes.parse(try PickleBytes.fixture("hostile_os_system.pkl"))
        }
        #expect(throws: ModelIOError.forbiddenPickleGlobal(path: "memory.pkl", module: "builtins", name: "eval")) {
            try PickleBytes.parse(try PickleBytes.fixture("hostile_builtins_eval.pkl"))
        }
    }

    @Test(arguments: [
        ("subprocess", "Popen"), ("__builtin__", "eval"), ("posix", "system"), ("builtins", "getattr"),
        ("torch", "load"), ("torch._utils", "_rebuild_qtensor"), ("collections", "defaultdict"),
        ("torch", "ComplexFloatStorage"), ("torch.serialization", "_get_layout"),
    ])
    func everyGlobalOutsideTheAllowListIsRefused(module: String, name: String) throws {
        let expected = ModelIOError.forbiddenPickleGlobal(path: "memory.pkl", module: module, name: name)
        // GLOBAL, STACK_GLOBAL and INST all go through the allow-list.
        #expect(throws: expected) { try PickleBytes.parse([0x80, 0x02] + PickleBytes.global(module, name) + [0x2E]) }
        let stacked = [0x80, 0x04, 0x8C, UInt8(module.utf8.count)] + Array(module.utf8)
            + [0x8C, UInt8(name.utf8.count)] + Array(name.utf8) + [0x93, 0x2E]
        #expect(throws: expected) { try PickleBytes.parse(stacked) }
        #expect(throws: expected) { try PickleBytes.parse([0x28, 0x69] + Array("\(module)\n\(name)\n".utf8) + [0x2E]) }
    }

    @Test func allowedGlobalsResolve() throws {
        let document = try PickleBytes.parse(
            [0x80, 0x02, 0x28] + PickleBytes.global("collections", "OrderedDict")
                + PickleBytes.global("torch", "BFloat16Storage") + PickleBytes.global("torch._utils", "_rebuild_parameter") + [0x74, 0x2E])
        #expect(document.sequence(document.root) == [.global(.orderedDict), .global(.storageType(.bfloat16)), .global(.rebuildParameter)])
    }

    @Test func unknownOpcodeNamesItsByteAndOffset() {
        #expect(throws: ModelIOError.invalidPickle(path: "memory.pkl", offset: 3, reason: "unknown opcode 0xFF")) {
            try PickleBytes.parse([0x80, 0x02, 0x4E, 0xFF, 0x2E])
        }
    }

    @Test(arguments: [
        ([0x80, 0x02, 0x82, 0x01, 0x2E], "EXT1"), ([0x80, 0x04, 0x8F, 0x2E], "EMPTY_SET"),
        ([0x80, 0x05, 0x97, 0x2E], "NEXT_BUFFER"), ([0x80, 0x06, 0x2E], "PROTO"),
        ([0x4E, 0x52, 0x2E], "REDUCE"), ([0x4E, 0x4E, 0x62, 0x2E], "BUILD"), ([0x29, 0x51, 0x2E], "BINPERSID"),
        ([0x4E, 0x61, 0x2E], "APPEND"), ([0x28, 0x4E, 0x75, 0x2E], "SETITEMS"), ([0x68, 0x07, 0x2E], "BINGET"),
        ([0x4E, 0x28, 0x2E], "STOP"), ([0x4E, 0x31, 0x2E], "POP_MARK"),
    ] as [([UInt8], String)])
    func malformedStreamsAreRefusedNamingTheOpcode(bytes: [UInt8], opcode: String) {
        do {
            _ = try PickleBytes.parse(bytes)
            Issue.record("accepted \(bytes)")
        } catch let ModelIOError.invalidPickle(path, _, reason) {
            #expect(path == "memory.pkl")
            #expect(reason.contains(opcode), "\(reason)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func everyPrefixOfAValidPickleFailsCleanly() throws {
        for name in ["plain_protocol0.pkl", "plain_protocol2.pkl", "plain_protocol4.pkl"] {
            let bytes = try PickleBytes.fixture(name)
            _ = try PickleBytes.parse(bytes)
            for length in 0..<bytes.count {
                do {
                    _ = try PickleBytes.parse(Array(bytes[0..<length]))
                    Issue.record("\(name) cut to \(length) bytes was accepted")
                } catch let error as ModelIOError {
                    switch error {
                    case .truncated, .invalidPickle: break
                    default: Issue.record("\(name) cut to \(length): \(error)")
                    }
                }
            }
        }
    }

    @Test func hugeLengthsAreCheckedAgainstTheInput() {
        let cases: [[UInt8]] = [
            [0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F, 0x41],
            [0x80, 0x04, 0x8D] + [UInt8](repeating: 0xFF, count: 8),
            [0x80, 0x04, 0x95] + [UInt8](repeating: 0xFF, count: 8),
            [0x80, 0x02, 0x8B, 0xFF, 0xFF, 0xFF, 0xFF],
            [0x54, 0xFF, 0xFF, 0xFF, 0xFF],
        ]
        for bytes in cases {
            #expect(throws: ModelIOError.self) { try PickleBytes.parse(bytes) }
        }
        do {
            _ = try PickleBytes.parse(cases[0])
        } catch let ModelIOError.truncated(_, reason) {
            #expect(reason.contains("BINUNICODE"))
        } catch {
            Issue.record("expected truncated, got \(error)")
        }
    }

    @Test func containersAreSharedThroughTheMemo() throws {
        // [d, d] where d = {} is memoised before it is filled: both entries see k → 1.
        let bytes: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0x00, 0x7D, 0x71, 0x01, 0x28] + PickleBytes.unicode("k")
            + [0x4B, 0x01, 0x75, 0x61, 0x68, 0x01, 0x61, 0x2E]
        let document = try PickleBytes.parse(bytes)
        let items = try #require(document.sequence(document.root))
        #expect(items.count == 2 && items[0] == items[1])
        #expect(document.dictionary(items[1])?[string: "k"] == .int(1))
    }

    @Test func repeatedReferencesStayLinear() throws {
        // 200 rounds of (x, x): 2^200 leaves if expanded, 200 tuples when shared.
        let bytes: [UInt8] = [0x80, 0x02, 0x4E] + Array(repeating: [0x32, 0x86], count: 200).flatMap { $0 } + [0x2E]
        let document = try PickleBytes.parse(bytes)
        #expect(document.tuples.count == 200)
    }

    @Test func resourceLimitsAreEnforced() {
        #expect(throws: ModelIOError.self) { try PickleBytes.parse([UInt8](repeating: 0x28, count: 5000) + [0x2E]) }
        let small = SafeUnpickler.Limits(maximumStackDepth: 10, maximumMarkDepth: 4, maximumMemoEntries: 3)
        #expect(throws: ModelIOError.self) { try PickleBytes.parse([UInt8](repeating: 0x4E, count: 11) + [0x2E], limits: small) }
        #expect(throws: ModelIOError.self) {
            try PickleBytes.parse([0x4E] + (0..<4).flatMap { [0x71, UInt8($0)] } + [0x2E], limits: small)
        }
    }

    @Test func scalarEncodings() throws {
        let bytes: [UInt8] = [0x80, 0x04, 0x28,
            0x4A, 0xFE, 0xFF, 0xFF, 0xFF,  // BININT -2
            0x4D, 0x34, 0x12,  // BININT2 0x1234
            0x8A, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x80,  // LONG1 Int64.min
            0x8A, 0x00,  // LONG1 0
            0x47, 0x40, 0x09, 0x21, 0xFB, 0x54, 0x44, 0x2D, 0x18,  // BINFLOAT pi
            0x43, 0x02, 0x00, 0xFF,  // SHORT_BINBYTES
            0x55, 0x02, 0xC3, 0xA9,  // SHORT_BINSTRING "é"
            0x55, 0x01, 0xFF,  // SHORT_BINSTRING, not UTF-8: bytes
            0x89,  // NEWFALSE
        ] + Array("S'a\\n\\x41\\''\nI-7\nL-123456789012345678901234567890L\nF-0.5\n".utf8) + [0x74, 0x2E]
        let document = try PickleBytes.parse(bytes)
        #expect(document.sequence(document.root) == [
            .int(-2), .int(0x1234), .int(.min), .int(0), .float(Double.pi), .bytes([0, 255]), .string("é"), .bytes([255]),
            .bool(false), .string("a\nA'"), .int(-7),
            .bigInteger([0x2E, 0xF5, 0xC0, 0xB1, 0x11, 0x1F, 0x8C, 0x3C, 0x09, 0xF0, 0x16, 0x71, 0xFE]), .float(-0.5),
        ])
    }

    @Test func stateDictShapesAreRebuilt() throws {
        let hooks = PickleBytes.global("collections", "OrderedDict") + [0x29, 0x52]
        let storage = [0x28] + PickleBytes.unicode("storage") + PickleBytes.global("torch", "HalfStorage")
            + PickleBytes.unicode("7") + PickleBytes.unicode("cpu") + [0x4B, 0x0C, 0x74, 0x51]
        let tensor = PickleBytes.global("torch._utils", "_rebuild_tensor_v2") + [0x28] + storage
            + [0x4B, 0x02, 0x4B, 0x03, 0x4B, 0x02, 0x86, 0x4B, 0x01, 0x4B, 0x03, 0x86, 0x89] + hooks + [0x74, 0x52]
        let parameter = PickleBytes.global("torch._utils", "_rebuild_parameter") + [0x28] + tensor + [0x88] + hooks + [0x74, 0x52]
        // OrderedDict with one parameter, then BUILD with {'_metadata': OrderedDict()} (ignored).
        let bytes = [0x80, 0x02] + hooks + [0x28] + PickleBytes.unicode("w") + parameter + [0x75, 0x7D, 0x28]
            + PickleBytes.unicode("_metadata") + hooks + [0x75, 0x62, 0x2E]
        let document = try PickleBytes.parse(bytes)
        let root = try #require(document.dictionary(document.root))
        let tensorValue = try #require(root[string: "w"])
        let rebuilt = try #require(document.tensor(tensorValue))
        #expect(rebuilt.shape == [3, 2] && rebuilt.stride == [1, 3] && rebuilt.storageOffset == 2)
        #expect(rebuilt.storage == PickleStorageReference(key: "7", dtype: .float16, location: "cpu", elementCount: 12, viewOffset: 0, viewCount: 12))
    }

    @Test func legacyStorageViewsAreCheckedAgainstTheirStorage() throws {
        func persistentID(view: [UInt8]) -> [UInt8] {
            [0x80, 0x02, 0x28] + PickleBytes.unicode("storage") + PickleBytes.global("torch", "LongStorage")
                + PickleBytes.unicode("9") + PickleBytes.unicode("cpu") + [0x4B, 0x0A] + view + [0x74, 0x51, 0x2E]
        }
        let inside = try PickleBytes.parse(persistentID(view: PickleBytes.unicode("9v") + [0x4B, 0x04, 0x4B, 0x06, 0x87]))
        #expect(inside.root == .storage(PickleStorageReference(key: "9", dtype: .int64, location: "cpu", elementCount: 10, viewOffset: 4, viewCount: 6)))
        let plain = try PickleBytes.parse(persistentID(view: [0x4E]))
        #expect(plain.root == .storage(PickleStorageReference(key: "9", dtype: .int64, location: "cpu", elementCount: 10, viewOffset: 0, viewCount: 10)))
        #expect(throws: ModelIOError.self) {
            try PickleBytes.parse(persistentID(view: PickleBytes.unicode("9v") + [0x4B, 0x05, 0x4B, 0x06, 0x87]))
        }
    }

    @Test func misusedCallablesAreRefused() {
        let storageCall = [0x80, 0x02] + PickleBytes.global("torch", "FloatStorage") + [0x29, 0x52, 0x2E]
        let badArity = [0x80, 0x02] + PickleBytes.global("torch._utils", "_rebuild_tensor_v2") + [0x29, 0x52, 0x2E]
        let badPersistentID = [0x80, 0x02, 0x28] + PickleBytes.unicode("module") + [0x4E, 0x74, 0x51, 0x2E]
        for bytes in [storageCall, badArity, badPersistentID] {
            #expect(throws: ModelIOError.self) { try PickleBytes.parse(bytes) }
        }
    }

    @Test func randomAndMutatedInputNeverTraps() throws {
        var generator = SeededGenerator(seed: 0x5EED)
        let seeds = try ["plain_protocol2.pkl", "plain_protocol4.pkl", "hostile_builtins_eval.pkl"].map { try PickleBytes.fixture($0) }
        var accepted = 0
        for round in 0..<3000 {
            var bytes: [UInt8]
            if round % 3 == 0 {
                bytes = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                bytes = seeds[round % seeds.count]
                for _ in 0..<Int.random(in: 1...4, using: &generator) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            do {
                _ = try PickleBytes.parse(bytes)
                accepted += 1
            } catch is ModelIOError {
            }
        }
        #expect(accepted < 3000)
    }
}

@testable import ModelIO
import Testing

@Suite struct JSONTests {
    @Test func parsesAndKeepsKeyOrder() throws {
        let value = try JSONParser.parse(#"{"b": [1, 2.5e3, -0], "a": {"x": null, "y": true}, "c": "\u00e9\ud83d\ude00\n"}"#, path: "t")
        #expect(value.objectValue?.keys == ["b", "a", "c"])
        #expect(value["b"]?.arrayValue?.first?.intValue == 1)
        #expect(value["b"]?.arrayValue?[1].doubleValue == 2500)
        #expect(value["c"]?.stringValue == "é😀\n")
        #expect(value["a"]?["y"]?.boolValue == true)
    }

    @Test func writerSortsKeysAndRoundTrips() throws {
        let text = #"{"z":1,"a":[true,false,null],"m":"q\"\\\u0001"}"#
        let value = try JSONParser.parse(text, path: "t")
        let written = JSONWriter().string(value)
        #expect(written == #"{"a":[true,false,null],"m":"q\"\\\u0001","z":1}"#)
        #expect(JSONWriter().string(try JSONParser.parse(written, path: "t")) == written)
    }

    @Test func hugeIntegersStayExactButDoNotFitInt() throws {
        let value = try JSONParser.parse("123456789012345678901234567890", path: "t")
        #expect(value.intValue == nil)
        #expect(value == .number("123456789012345678901234567890"))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"abc", "\"\\x\"", "\"\\ud800\"", "tru",
        "{\"a\":1,\"a\":2}", "[1] 2", "\"\u{01}\"", String(repeating: "[", count: 10_000),
        String(repeating: "9", count: 100),
    ])
    func rejectsMalformedOrHostileInput(text: String) {
        #expect(throws: ModelIOError.self) { try JSONParser.parse(text, path: "hostile.json") }
    }

    @Test func invalidUTF8IsRejected() {
        #expect(throws: ModelIOError.self) { try JSONParser.parse([0x22, 0xFF, 0xFE, 0x22], path: "t") }
    }
}

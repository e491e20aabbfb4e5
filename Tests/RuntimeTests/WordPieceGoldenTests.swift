import Foundation
import ModelIO
import Testing

@testable import Runtime

/// The Hugging Face goldens made by `Tools/goldens/tokenizer_goldens.py`.
private struct GoldenCase {
    var text: String
    var ids: [Int]
    var truncated: Bool
}

private struct Goldens {
    var maxLength: Int
    var cases: [GoldenCase]

    static func load() throws -> Goldens {
        let path = TokenizerTestPaths.fixtures + "/minilm-token-ids.json"
        let root = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))), path: path)
        let cases = try #require(root["cases"]?.arrayValue).map { entry in
            GoldenCase(
                text: try #require(entry["text"]?.stringValue),
                ids: try #require(entry["ids"]?.arrayValue).map { try #require($0.intValue) },
                truncated: try #require(entry["truncated"]?.boolValue as Bool?))
        }
        return Goldens(maxLength: try #require(root["max_length"]?.intValue), cases: cases)
    }
}

/// Describes the first golden the tokenizer gets wrong, or nil when all match.
private func firstMismatch(_ tokenizer: WordPieceTokenizer, _ goldens: Goldens) -> String? {
    for (index, golden) in goldens.cases.enumerated() {
        let encoding = tokenizer.encode(golden.text, maxLength: goldens.maxLength)
        if encoding.ids != golden.ids || encoding.wasTruncated != golden.truncated {
            let common = min(encoding.count, golden.ids.count)
            let position = (0..<common).first { encoding.ids[$0] != golden.ids[$0] } ?? common
            let ours = encoding.ids.dropFirst(position).prefix(6).map { "\($0):\(tokenizer.token(forID: $0) ?? "?")" }
            let theirs = golden.ids.dropFirst(position).prefix(6).map { "\($0):\(tokenizer.token(forID: $0) ?? "?")" }
            return "case \(index) \(golden.text.debugDescription): first difference at token \(position); "
                + "ours \(ours) (\(encoding.count) ids, truncated \(encoding.wasTruncated)), "
                + "Hugging Face \(theirs) (\(golden.ids.count) ids, truncated \(golden.truncated))"
        }
    }
    return nil
}

@Suite("WordPiece goldens (Hugging Face tokenizers 0.20.3)")
struct WordPieceGoldenTests {
    @Test func goldenFixtureIsVaried() throws {
        let goldens = try Goldens.load()
        #expect(goldens.cases.count >= 300)
        #expect(goldens.maxLength == 256)
        #expect(goldens.cases.filter(\.truncated).count >= 3)
        #expect(goldens.cases.contains { $0.text.isEmpty })
        #expect(goldens.cases.contains { $0.text.contains("[SEP]") })
    }

    @Test func tokenizerJSONMatchesEveryGolden() throws {
        let goldens = try Goldens.load()
        let tokenizer = try WordPieceTokenizer(tokenizerFile: TokenizerTestPaths.miniLMFolder + "/tokenizer.json")
        let mismatch = firstMismatch(tokenizer, goldens)
        #expect(mismatch == nil, "\(mismatch ?? "")")
    }

    @Test func vocabularyFileMatchesEveryGolden() throws {
        let goldens = try Goldens.load()
        let folder = TokenizerTestPaths.miniLMFolder
        let tokenizer = try WordPieceTokenizer(
            vocabularyFile: folder + "/vocab.txt", configurationFile: folder + "/tokenizer_config.json")
        let mismatch = firstMismatch(tokenizer, goldens)
        #expect(mismatch == nil, "\(mismatch ?? "")")
    }

    /// Every code point through the normaliser and the pre-tokenizer's character
    /// classes, against what Hugging Face does with each one on its own.
    @Test func everyCodePointMatchesHuggingFace() throws {
        let path = TokenizerTestPaths.fixtures + "/minilm-unicode-classes.json"
        let root = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))), path: path)
        let blockSize = try #require(root["block_size"]?.intValue)
        let digests = try #require(root["normalized_block_sha256"]?.arrayValue).map { try #require($0.stringValue) }
        #expect(digests.count * blockSize == 0x110000)
        func codePoints(_ key: String) throws -> Set<UInt32> {
            var result = Set<UInt32>()
            for range in try #require(root[key]?.arrayValue) {
                let bounds = try #require(range.arrayValue).map { try #require($0.intValue) }
                result.formUnion(UInt32(bounds[0])...UInt32(bounds[1]))
            }
            return result
        }
        let whitespace = try codePoints("whitespace")
        let punctuation = try codePoints("punctuation")
        let normalizer = try WordPieceTokenizer(modelFolder: TokenizerTestPaths.miniLMFolder).normalizer
        var wrongBlocks: [String] = []
        var wrongClasses: [String] = []
        for block in 0..<digests.count {
            var bytes: [UInt8] = []
            for value in UInt32(block * blockSize)..<UInt32((block + 1) * blockSize) {
                guard let scalar = Unicode.Scalar(value) else { continue }
                if !bytes.isEmpty || value != UInt32(block * blockSize) { bytes.append(0x0A) }
                var scalars = [scalar]
                normalizer.normalize(&scalars)
                for output in scalars { bytes.append(contentsOf: Array(String(output).utf8)) }
                if BertCharacterClass.isWhitespace(scalar) != whitespace.contains(value)
                    || BertCharacterClass.isPunctuation(scalar) != punctuation.contains(value)
                {
                    wrongClasses.append(String(value, radix: 16))
                }
            }
            if SHA256.hexDigest(bytes) != digests[block] { wrongBlocks.append(String(block * blockSize, radix: 16)) }
        }
        #expect(wrongClasses.isEmpty, "pre-tokenizer class differs for U+\(wrongClasses.prefix(20))")
        #expect(wrongBlocks.isEmpty, "normalised output differs in blocks starting at U+\(wrongBlocks.prefix(20))")
    }
}

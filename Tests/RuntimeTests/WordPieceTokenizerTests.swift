import Foundation
import Testing

@testable import Runtime

/// A tiny tokenizer.json: WordPiece over a handful of tokens, BERT pieces around it.
private func smallTokenizerJSON(
    vocabulary: [String] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "aff", "able", "!", "##s", "a"],
    modelType: String = "WordPiece", unknownToken: String = "[UNK]", maximumCharacters: Int = 100
) -> String {
    let entries = vocabulary.enumerated().map { "\"\($0.element)\": \($0.offset)" }.joined(separator: ", ")
    let added = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"].enumerated().map {
        "{\"id\": \($0.offset), \"content\": \"\($0.element)\", \"special\": true, \"single_word\": false, "
            + "\"lstrip\": false, \"rstrip\": false, \"normalized\": false}"
    }.joined(separator: ", ")
    return """
        {"version": "1.0", "truncation": null, "padding": null, "added_tokens": [\(added)],
         "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                        "strip_accents": null, "lowercase": true},
         "pre_tokenizer": {"type": "BertPreTokenizer"},
         "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
         "model": {"type": "\(modelType)", "unk_token": "\(unknownToken)", "continuing_subword_prefix": "##",
                   "max_input_chars_per_word": \(maximumCharacters), "vocab": {\(entries)}}}
        """
}

private func smallTokenizer(maximumCharacters: Int = 100) throws -> WordPieceTokenizer {
    let folder = try TokenizerTestPaths.temporaryFolder()
    let path = try TokenizerTestPaths.write(
        smallTokenizerJSON(maximumCharacters: maximumCharacters), to: folder, as: "tokenizer.json")
    return try WordPieceTokenizer(tokenizerFile: path)
}

@Suite("WordPiece tokenizer")
struct WordPieceTokenizerTests {
    @Test func greedyLongestMatchFirst() throws {
        let tokenizer = try smallTokenizer()
        #expect(tokenizer.tokens("unaffable") == ["un", "##aff", "##able"])
        #expect(tokenizer.tokens("Affable!") == ["aff", "##able", "!"])
        #expect(tokenizer.tokens("ables") == ["able", "##s"])
        // "unx" cannot be covered, so the whole word becomes [UNK], not "un" + [UNK].
        #expect(tokenizer.tokens("unx able") == ["[UNK]", "able"])
        #expect(tokenizer.encode("a").ids == [2, 11, 3])
        #expect(tokenizer.encode("").ids == [2, 3])
    }

    @Test func wordsLongerThanTheLimitAreUnknown() throws {
        let tokenizer = try smallTokenizer(maximumCharacters: 4)
        #expect(tokenizer.tokens("aaaa aaaaa") == ["[UNK]", "[UNK]"])
        #expect(tokenizer.tokens("able ables") == ["able", "[UNK]"])
    }

    @Test func specialTokensInTextAreMatchedBeforeNormalisation() throws {
        let tokenizer = try smallTokenizer()
        #expect(tokenizer.tokenIDs("a[SEP]a") == [11, 3, 11])
        // Lowercase "[sep]" is ordinary text: brackets are punctuation, "sep" is unknown.
        #expect(tokenizer.tokens("[sep]") == ["[UNK]", "[UNK]", "[UNK]"])
    }

    @Test func normaliserFollowsTokenizersRules() {
        let bert = BertNormalizer()
        #expect(bert.normalize("İstanbul") == "istanbul")
        #expect(bert.normalize("café\u{0}\t中文") == "cafe  中  文 ")
        #expect(bert.normalize("ΟΔΟΣ") == "οδοσ")  // per scalar: no final-sigma rule
        let keepAccents = BertNormalizer(stripAccents: false, lowercase: true)
        #expect(keepAccents.normalize("İ") == "i\u{307}")
        #expect(keepAccents.normalize("ẞǄ") == "ßǆ")
        let none = BertNormalizer(cleanText: false, handleChineseCharacters: false, stripAccents: nil, lowercase: false)
        #expect(none.normalize("Café\t中") == "Café\t中")
    }

    @Test func batchPadsWithPaddingIDAndMasksIt() throws {
        let tokenizer = try smallTokenizer()
        let texts = ["unaffable!", "", "a a a a a a a", "able"]
        let batch = tokenizer.encodeBatch(texts)
        let encodings = texts.map { tokenizer.encode($0) }
        #expect(batch.count == 4)
        #expect(batch.sequenceLength == 9)
        #expect(batch.lengths == encodings.map(\.count))
        #expect(batch.lengths == [6, 2, 9, 3])
        for row in 0..<batch.count {
            let length = batch.lengths[row]
            #expect(batch.ids[row].count == batch.sequenceLength)
            #expect(Array(batch.ids[row].prefix(length)) == encodings[row].ids)
            #expect(batch.ids[row].dropFirst(length).allSatisfy { $0 == tokenizer.paddingID })
            #expect(batch.attentionMask[row] == Array(repeating: 1, count: length)
                + Array(repeating: 0, count: batch.sequenceLength - length))
            #expect(batch.attentionMask[row].reduce(0, +) == length)
        }
        #expect(batch.flattenedIDs.count == 4 * 9)
        #expect(tokenizer.encodeBatch([]).sequenceLength == 0)
    }

    @Test func truncationCountsTheSpecialTokens() throws {
        let tokenizer = try smallTokenizer()
        let text = Array(repeating: "able", count: 10).joined(separator: " ")
        let full = tokenizer.encode(text)
        #expect(full.count == 12 && !full.wasTruncated)
        let cut = tokenizer.encode(text, maxLength: 5)
        #expect(cut.ids == [2, 8, 8, 8, 3])
        #expect(cut.wasTruncated)
        #expect(tokenizer.encode(text, maxLength: 12) == full)
        #expect(tokenizer.encode(text, maxLength: 11).wasTruncated)
        #expect(tokenizer.encode(text, maxLength: 0).ids == [2, 3])
        let batch = tokenizer.encodeBatch([text, "a"], maxLength: 4)
        #expect(batch.wasTruncated == [true, false])
        #expect(batch.lengths == [4, 3])
    }

    @Test func missingFilesAreNamed() throws {
        let folder = try TokenizerTestPaths.temporaryFolder()
        #expect(throws: RuntimeError.missingFile(path: folder + "/tokenizer.json")) {
            try WordPieceTokenizer(modelFolder: folder)
        }
        #expect(throws: RuntimeError.missingFile(path: folder + "/vocab.txt")) {
            try WordPieceTokenizer(vocabularyFile: folder + "/vocab.txt")
        }
        try TokenizerTestPaths.write("[PAD]\n[UNK]\n[CLS]\n[SEP]\n", to: folder, as: "vocab.txt")
        #expect(throws: RuntimeError.missingFile(path: folder + "/none.json")) {
            try WordPieceTokenizer(vocabularyFile: folder + "/vocab.txt", configurationFile: folder + "/none.json")
        }
        #expect(throws: RuntimeError.missingFile(path: folder + "/config.json")) {
            try WordPieceTokenizer.maximumSequenceLength(modelFolder: folder)
        }
    }

    @Test(arguments: [
        ("truncated", String(smallTokenizerJSON().prefix(200))),
        ("not an object", "[1, 2, 3]"),
        ("BPE model", smallTokenizerJSON(modelType: "BPE")),
        ("string id", smallTokenizerJSON().replacingOccurrences(of: "\"able\": 8", with: "\"able\": \"8\"")),
        ("negative id", smallTokenizerJSON().replacingOccurrences(of: "\"able\": 8", with: "\"able\": -8")),
        ("Metaspace", smallTokenizerJSON().replacingOccurrences(of: "BertPreTokenizer", with: "Metaspace")),
        ("lstrip", smallTokenizerJSON().replacingOccurrences(of: "\"lstrip\": false", with: "\"lstrip\": true")),
    ])
    func malformedTokenizerJSONIsATypedError(name: String, text: String) throws {
        let folder = try TokenizerTestPaths.temporaryFolder()
        let path = try TokenizerTestPaths.write(text, to: folder, as: "tokenizer.json")
        do {
            _ = try WordPieceTokenizer(tokenizerFile: path)
            Issue.record("\(name): no error")
        } catch let RuntimeError.invalidTokenizer(errorPath, reason) {
            #expect(errorPath == path)
            #expect(!reason.isEmpty)
        }
    }

    @Test func malformedVocabularyFilesAreTypedErrors() throws {
        let folder = try TokenizerTestPaths.temporaryFolder()
        let vocabulary = folder + "/vocab.txt"
        try Data([0x5B, 0x55, 0x4E, 0x4B, 0x5D, 0x0A, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: vocabulary))
        #expect(throws: RuntimeError.invalidTokenizer(path: vocabulary, reason: "vocabulary is not UTF-8")) {
            try WordPieceTokenizer(vocabularyFile: vocabulary)
        }
        try TokenizerTestPaths.write("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n", to: folder, as: "vocab.txt")
        let configuration = try TokenizerTestPaths.write("{\"do_lower_case\": \"yes\"}", to: folder, as: "tokenizer_config.json")
        #expect(throws: RuntimeError.invalidTokenizer(path: configuration, reason: "'do_lower_case' is not a boolean")) {
            try WordPieceTokenizer(modelFolder: folder)
        }
        try TokenizerTestPaths.write("{\"do_lower_case\": true", to: folder, as: "tokenizer_config.json")
        #expect(throws: RuntimeError.self) { try WordPieceTokenizer(modelFolder: folder) }
        try TokenizerTestPaths.write("{\"do_lower_case\": true}", to: folder, as: "tokenizer_config.json")
        let tokenizer = try WordPieceTokenizer(modelFolder: folder)
        #expect(tokenizer.encode("Hello [SEP] bye").ids == [2, 4, 3, 1, 3])
        try TokenizerTestPaths.write("[PAD]\n[CLS]\n[SEP]\n", to: folder, as: "vocab.txt")
        #expect(throws: RuntimeError.unknownToken(path: vocabulary, token: "[UNK]")) {
            try WordPieceTokenizer(modelFolder: folder)
        }
    }

    @Test func unknownTokenMissingFromVocabulary() throws {
        let folder = try TokenizerTestPaths.temporaryFolder()
        let path = try TokenizerTestPaths.write(smallTokenizerJSON(unknownToken: "<unk>"), to: folder, as: "tokenizer.json")
        #expect(throws: RuntimeError.unknownToken(path: path, token: "<unk>")) {
            try WordPieceTokenizer(tokenizerFile: path)
        }
    }

    @Test func maximumSequenceLengthPrefersSentenceTransformersConfig() throws {
        let folder = try TokenizerTestPaths.temporaryFolder()
        try TokenizerTestPaths.write("{\"max_position_embeddings\": 512}", to: folder, as: "config.json")
        #expect(try WordPieceTokenizer.maximumSequenceLength(modelFolder: folder) == 512)
        try TokenizerTestPaths.write("{\"max_seq_length\": 128}", to: folder, as: "sentence_bert_config.json")
        #expect(try WordPieceTokenizer.maximumSequenceLength(modelFolder: folder) == 128)
        let broken = try TokenizerTestPaths.write("{\"max_seq_length\": \"x\"}", to: folder, as: "sentence_bert_config.json")
        #expect(throws: RuntimeError.invalidConfiguration(
            path: broken, reason: "'max_seq_length' is missing or not a positive integer")) {
            try WordPieceTokenizer.maximumSequenceLength(modelFolder: folder)
        }
    }
}

@Suite("WordPiece tokenizer on MiniLM")
struct MiniLMTokenizerTests {
    @Test func maximumSequenceLengthIs256() throws {
        #expect(try WordPieceTokenizer.maximumSequenceLength(modelFolder: TokenizerTestPaths.miniLMFolder) == 256)
    }

    @Test func truncatesAt256WithTheFlag() throws {
        let tokenizer = try WordPieceTokenizer(modelFolder: TokenizerTestPaths.miniLMFolder)
        let text = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 40)
        let content = tokenizer.tokenIDs(text)
        #expect(content.count == 400)
        let encoding = tokenizer.encode(text, maxLength: 256)
        #expect(encoding.count == 256)
        #expect(encoding.wasTruncated)
        #expect(encoding.ids.first == tokenizer.id(forToken: "[CLS]"))
        #expect(encoding.ids.last == tokenizer.id(forToken: "[SEP]"))
        #expect(Array(encoding.ids[1..<255]) == Array(content.prefix(254)))
        #expect(encoding.attentionMask == Array(repeating: 1, count: 256))
        #expect(encoding.tokens[1] == "the")
        // Ignores the fixed padding (128) and truncation (128) stored in tokenizer.json.
        #expect(tokenizer.encode(text).count == 402)
        #expect(tokenizer.encode("hello").ids == [101, 7592, 102])
        let exact = String(repeating: "word ", count: 254)
        #expect(!tokenizer.encode(exact, maxLength: 256).wasTruncated)
        #expect(tokenizer.encode(exact + "word", maxLength: 256).wasTruncated)
    }

    @Test func batchUsesPadIDZero() throws {
        let tokenizer = try WordPieceTokenizer(modelFolder: TokenizerTestPaths.miniLMFolder)
        #expect(tokenizer.paddingID == 0)
        let batch = tokenizer.encodeBatch(["Hello, world!", "hi"], maxLength: 256)
        #expect(batch.ids == [[101, 7592, 1010, 2088, 999, 102], [101, 7632, 102, 0, 0, 0]])
        #expect(batch.attentionMask == [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
        #expect(batch.lengths == [6, 3])
    }
}

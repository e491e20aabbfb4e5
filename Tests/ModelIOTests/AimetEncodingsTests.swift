import Foundation
@testable import ModelIO
import QuantCore
import Testing

/// AIMET encodings files against AIMET's own documented examples (Tests/Fixtures/encodings,
/// sources in its MANIFEST), the grid conversion, and round trips through both layouts.
@Suite struct AimetEncodingsTests {
    static func fixture(_ name: String) -> String {
        FixturePaths.fixtures.appendingPathComponent("encodings").appendingPathComponent(name).path
    }

    static func rawJSON(_ name: String) throws -> JSONValue {
        let file = try MappedFile(path: fixture(name))
        return try JSONParser.parse(file.bytes, path: name)
    }

    static func encoding(_ document: AimetEncodingsDocument, _ name: String) -> AimetTensorEncoding? {
        (document.activationEncodings + document.parameterEncodings).first { $0.name == name }
    }

    /// The fixtures are the ones the MANIFEST describes.
    @Test func fixturesMatchTheirManifest() throws {
        let manifest = try TextFile.lines(atPath: Self.fixture("MANIFEST"))
        #expect(manifest.count == 4)
        for line in manifest {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            let file = try #require(fields.count > 1 ? String(fields[1]) : nil)
            #expect(try SHA256.hexDigest(ofFile: Self.fixture(file)) == String(fields[0]), "\(file)")
        }
    }

    /// The documented 0.4.0 PyTorch example: asymmetric 8-bit offsets −114, −12, −127 are zero
    /// points 114, 12, 127, and AIMET's min/max formula reproduces the documented min/max.
    @Test func specificationExampleConvertsAndReproducesMinMax() throws {
        let name = "aimet-spec-0.4.0-pytorch-example.json"
        let document = try AimetEncodingsDocument(contentsOfFile: Self.fixture(name))
        let raw = try Self.rawJSON(name)
        let expectedZeroPoints: [String: Int32] = ["20": 114, "21": 12, "conv2.weight": 127, "fc1.weight": 127]
        #expect(document.activationEncodings.map(\.name) == ["20", "21"])
        #expect(document.parameterEncodings.map(\.name) == ["conv2.weight", "fc1.weight"])
        for (tensor, zeroPoint) in expectedZeroPoints {
            let encoding = try #require(Self.encoding(document, tensor))
            #expect(!encoding.isSymmetric)
            #expect(encoding.bitwidth == 8)
            #expect(encoding.granularity == .perTensor)
            #expect(encoding.zeroPoints == [zeroPoint])
            let section = tensor.hasSuffix("weight") ? "param_encodings" : "activation_encodings"
            let documented = try #require(raw[section]?[tensor]?.arrayValue?.first)
            let documentedScale = try #require(documented["scale"]?.doubleValue)
            #expect(abs(Double(encoding.scales[0]) - documentedScale) <= documentedScale * 1e-7)
            let offset = AimetGrid.offset(zeroPoint: zeroPoint, bitwidth: 8, isSymmetric: false)
            let range = AimetGrid.range(scale: encoding.scales[0], offset: offset, bitwidth: 8)
            let documentedMin = try #require(documented["min"]?.doubleValue)
            let documentedMax = try #require(documented["max"]?.doubleValue)
            // The documented values were computed from a float64 scale; ours is float32.
            #expect(abs(range.min - documentedMin) <= abs(documentedMin) * 1e-6)
            #expect(abs(range.max - documentedMax) <= abs(documentedMax) * 1e-6)
        }
    }

    /// aimet_onnx's export tests: symmetric int8 scale 0.1 ↔ offset −128, asymmetric int16
    /// offset −1000 ↔ zero point 1000, per-channel, float16 — in both layouts.
    @Test(arguments: ["aimet-onnx-tests-1.0.0.json", "aimet-onnx-tests-0.6.1.json"])
    func onnxExportTestsReadAsExpected(fixture: String) throws {
        let document = try AimetEncodingsDocument(contentsOfFile: Self.fixture(fixture))
        let symmetric = try #require(Self.encoding(document, "symmetric_int8"))
        #expect(symmetric.isSymmetric && symmetric.bitwidth == 8 && symmetric.granularity == .perTensor)
        #expect(symmetric.scales == [0.1] && symmetric.zeroPoints == [0])
        let asymmetric = try #require(Self.encoding(document, "asymmetric_int16"))
        #expect(!asymmetric.isSymmetric && asymmetric.bitwidth == 16)
        #expect(asymmetric.scales == [0.0125] && asymmetric.zeroPoints == [1000])
        let perChannel = try #require(Self.encoding(document, "per_channel_weight"))
        #expect(perChannel.granularity == .perChannel(axis: 0))
        #expect(perChannel.scales == Array(repeating: 0.1, count: 5) && perChannel.zeroPoints == Array(repeating: 0, count: 5))
        #expect(Self.encoding(document, "float16_activation") == .float(name: "float16_activation", bitwidth: 16))
    }

    /// Writing what we read reproduces AIMET's files: same keys, same integers, numbers equal
    /// up to float32 rounding of the scale (relative 2e-7).
    @Test(arguments: [
        ("aimet-onnx-tests-1.0.0.json", AimetEncodingVersion.v1_0_0),
        ("aimet-onnx-tests-0.6.1.json", AimetEncodingVersion.v0_6_1),
        ("aimet-onnx-tests-lpbq-1.0.0.json", AimetEncodingVersion.v1_0_0),
    ])
    func writingReproducesAimetFiles(fixture: String, version: AimetEncodingVersion) throws {
        let document = try AimetEncodingsDocument(contentsOfFile: Self.fixture(fixture))
        let written = try document.json(version: version)
        let expected = try Self.rawJSON(fixture)
        var mismatches: [String] = []
        JSONComparison.compare(written, expected, at: "$", relativeTolerance: 2e-7, into: &mismatches)
        #expect(mismatches.isEmpty, "\(mismatches)")
    }

    /// AIMET's LPBQ test: per-channel scales 0.1 and 1.0 with integer block scales give block
    /// scales 1.6, 1.1, 0.1 / 16, 3, 5 on a 4-bit grid stored as bw 8, compressed_bw 4.
    @Test func lowPowerBlockExampleReadsAsExpected() throws {
        let document = try AimetEncodingsDocument(contentsOfFile: Self.fixture("aimet-onnx-tests-lpbq-1.0.0.json"))
        let encoding = try #require(document.parameterEncodings.first)
        #expect(encoding.bitwidth == 4 && encoding.isSymmetric)
        #expect(encoding.granularity == .lowPowerBlock(
            channelAxis: 0, blockAxis: 1, blockSize: 3, scaleBitwidth: 4, integerScales: [16, 11, 1, 16, 3, 5]))
        #expect(encoding.scales == [0.1, 1.0])
        let expected: [Float] = [1.6, 1.1, 0.1, 16, 3, 5]
        for (actual, wanted) in zip(encoding.effectiveScales, expected) {
            #expect(abs(actual - wanted) <= wanted * 1e-6)
        }
    }

    /// The key sets AIMET's exporters produce (aimet_onnx tests plus `name`).
    @Test func entryKeysMatchAimet() throws {
        let document = AimetEncodingsDocument(parameterEncodings: [
            AimetTensorEncoding(name: "t", bitwidth: 8, isSymmetric: true, granularity: .perTensor, scales: [0.5]),
            AimetTensorEncoding(name: "c", bitwidth: 8, isSymmetric: true, granularity: .perChannel(axis: 0), scales: [0.5, 0.25]),
            AimetTensorEncoding(name: "b", bitwidth: 4, isSymmetric: true,
                                granularity: .perBlock(channelAxis: 0, blockAxis: 1, blockSize: 32), scales: [0.5, 0.25]),
            AimetTensorEncoding(name: "l", bitwidth: 4, isSymmetric: true,
                                granularity: .lowPowerBlock(channelAxis: 0, blockAxis: 1, blockSize: 32, scaleBitwidth: 4, integerScales: [1, 16]),
                                scales: [0.5]),
            .float(name: "f", bitwidth: 16),
        ])
        let entries = try #require(try document.json(version: .v1_0_0)["param_encodings"]?.arrayValue)
        let keys = entries.map { Set($0.objectValue?.keys ?? []) }
        let base: Set = ["name", "enc_type", "dtype", "bw", "is_sym", "scale", "offset"]
        #expect(keys[0] == base && keys[1] == base)
        #expect(keys[2] == base.union(["block_size"]))
        #expect(keys[3] == base.union(["block_size", "compressed_bw", "per_block_int_scale"]))
        #expect(keys[4] == ["name", "enc_type", "dtype", "bw"])
        #expect(entries.map { $0["enc_type"]?.stringValue } == ["PER_TENSOR", "PER_CHANNEL", "PER_BLOCK", "LPBQ", "PER_TENSOR"])
        #expect(entries[2]["offset"] == .array([.number("-8"), .number("-8")]))
        #expect(entries[3]["bw"] == .number("8") && entries[3]["offset"] == .array([.number("-128")]))
    }

    /// Every value of our grid is a value of AIMET's grid after the conversion, zero stays
    /// exactly representable, and reading the offset back gives the zero point.
    @Test(arguments: [2, 4, 8, 16])
    func everyGridValueSurvivesTheConversion(bitwidth: Int) throws {
        var generator = EncodingsRandom(seed: UInt64(bitwidth))
        let scale = Float.random(in: 0.001...2, using: &generator)
        let half = Int64(1) << Int64(bitwidth - 1)
        let levels = (Int64(1) << Int64(bitwidth)) - 1
        let zeroPoint = Int32(Int64.random(in: 0...levels, using: &generator))
        for (isSymmetric, zero, range) in [(true, Int32(0), -(half - 1)...(half - 1)), (false, zeroPoint, 0...levels)] {
            let offset = AimetGrid.offset(zeroPoint: zero, bitwidth: bitwidth, isSymmetric: isSymmetric)
            #expect(AimetGrid.zeroPoint(offset: offset, bitwidth: bitwidth, isSymmetric: isSymmetric) == zero)
            let aimetRange = AimetGrid.range(scale: scale, offset: offset, bitwidth: bitwidth)
            #expect(aimetRange.min <= 0 && aimetRange.max >= 0)
            for q in stride(from: range.lowerBound, through: range.upperBound, by: max(1, Int(levels / 257))) {
                let aimetLevel = q - Int64(zero) - offset  // AIMET's unsigned q with the same value
                #expect((0...levels).contains(aimetLevel))
                let value = Double(aimetLevel + offset) * Double(scale)
                #expect(value >= aimetRange.min && value <= aimetRange.max)
            }
            #expect((0...levels).contains(-offset))  // x̂ = 0 is AIMET level −offset: on the grid
        }
        #expect(AimetGrid.zeroPoint(offset: -(half - 1), bitwidth: bitwidth, isSymmetric: true) == 0)  // strict symmetric
    }

    /// A seeded document with every granularity round-trips through text and a file.
    @Test(arguments: AimetEncodingVersion.allCases)
    func documentsRoundTrip(version: AimetEncodingVersion) throws {
        var generator = EncodingsRandom(seed: 11)
        let document = EncodingsRandom.document(using: &generator, includeBlocks: version == .v1_0_0)
        let text = try document.jsonText(version: version)
        #expect(try document.jsonText(version: version) == text)
        let folder = try FixturePaths.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("model.encodings").path
        try document.write(toPath: path, version: version)
        let fromFile = try AimetEncodingsDocument(contentsOfFile: path)
        let fromText = try AimetEncodingsDocument(json: try JSONParser.parse(text, path: "text"), path: "text")
        #expect(fromFile == fromText)
        // 0.6.1 stores entries as object members, written in sorted key order.
        var expected = document
        if version == .v0_6_1 {
            expected.activationEncodings.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
            expected.parameterEncodings.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        }
        #expect(fromFile == expected)
        #expect(text.contains("\"version\": \"\(version.rawValue)\""))
    }
}

/// Structural JSON comparison with a relative tolerance for non-integer numbers.
enum JSONComparison {
    static func compare(_ actual: JSONValue, _ expected: JSONValue, at path: String, relativeTolerance: Double, into mismatches: inout [String]) {
        switch (actual, expected) {
        case let (.object(left), .object(right)):
            if Set(left.keys) != Set(right.keys) { mismatches.append("\(path): keys \(left.keys.sorted()) vs \(right.keys.sorted())") }
            for key in Set(left.keys).intersection(right.keys) {
                compare(left[key]!, right[key]!, at: "\(path).\(key)", relativeTolerance: relativeTolerance, into: &mismatches)
            }
        case let (.array(left), .array(right)):
            guard left.count == right.count else { return mismatches.append("\(path): \(left.count) vs \(right.count) elements") }
            for (index, (leftElement, rightElement)) in zip(left, right).enumerated() {
                compare(leftElement, rightElement, at: "\(path)[\(index)]", relativeTolerance: relativeTolerance, into: &mismatches)
            }
        case let (.number(left), .number(right)):
            if let leftInteger = Int64(left), let rightInteger = Int64(right) {
                if leftInteger != rightInteger { mismatches.append("\(path): \(left) vs \(right)") }
            } else if let leftValue = Double(left), let rightValue = Double(right),
                      abs(leftValue - rightValue) <= abs(rightValue) * relativeTolerance {
                return
            } else {
                mismatches.append("\(path): \(left) vs \(right)")
            }
        default:
            if actual != expected { mismatches.append("\(path): \(actual) vs \(expected)") }
        }
    }
}

/// The encodings tests draw from QuantCore's seeded generator.
typealias EncodingsRandom = SeededGenerator

extension SeededGenerator {

    static func encoding(
        name: String, granularity: AimetEncodingGranularity, count: Int, bitwidth: Int, isSymmetric: Bool,
        using generator: inout EncodingsRandom
    ) -> AimetTensorEncoding {
        let scales = (0..<count).map { _ in Float.random(in: 1e-5...4, using: &generator) }
        let levels = (Int64(1) << Int64(bitwidth)) - 1
        let zeroPoints = (0..<count).map { _ in isSymmetric ? Int32(0) : Int32(Int64.random(in: 0...levels, using: &generator)) }
        return AimetTensorEncoding(name: name, bitwidth: bitwidth, isSymmetric: isSymmetric, granularity: granularity,
                                   scales: scales, zeroPoints: zeroPoints)
    }

    static func document(using generator: inout EncodingsRandom, includeBlocks: Bool) -> AimetEncodingsDocument {
        var activations: [AimetTensorEncoding] = [.float(name: "softmax.output", bitwidth: 16)]
        var parameters: [AimetTensorEncoding] = []
        for (index, bitwidth) in [8, 16, 4, 8].enumerated() {
            activations.append(encoding(name: "layer\(index).output", granularity: .perTensor, count: 1,
                                        bitwidth: bitwidth, isSymmetric: index % 2 == 0, using: &generator))
            parameters.append(encoding(name: "layer\(index).weight", granularity: .perChannel(axis: 0), count: 3 + index,
                                       bitwidth: bitwidth, isSymmetric: index != 3, using: &generator))
        }
        if includeBlocks {
            parameters.append(encoding(name: "block.weight", granularity: .perBlock(channelAxis: 0, blockAxis: 1, blockSize: 32),
                                       count: 8, bitwidth: 4, isSymmetric: true, using: &generator))
            let integerScales = (0..<12).map { _ in UInt16.random(in: 1...16, using: &generator) }
            parameters.append(encoding(
                name: "lpbq.weight",
                granularity: .lowPowerBlock(channelAxis: 0, blockAxis: 1, blockSize: 64, scaleBitwidth: 4, integerScales: integerScales),
                count: 3, bitwidth: 4, isSymmetric: true, using: &generator))
        }
        return AimetEncodingsDocument(
            activationEncodings: activations, parameterEncodings: parameters,
            quantizerArguments: AimetQuantizerArguments(
                activationBitwidth: 8, parameterBitwidth: 8, isSymmetric: true, perChannelQuantization: true,
                quantScheme: "post_training_tf_enhanced"),
            excludedLayers: ["pooler.dense"])
    }
}

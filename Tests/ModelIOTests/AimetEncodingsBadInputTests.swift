import Foundation
@testable import ModelIO
import Testing

/// Invalid encodings are refused with a typed error naming the tensor, on write and on read.
@Suite struct AimetEncodingsBadInputTests {
    enum Kind: String, Sendable { case invalidTensor, invalidHeader, invalidJSON, unsupportedFormat }

    static func kind(of error: any Error) -> Kind? {
        switch error as? ModelIOError {
        case .invalidTensor?: return .invalidTensor
        case .invalidHeader?: return .invalidHeader
        case .invalidJSON?: return .invalidJSON
        case .unsupportedFormat?: return .unsupportedFormat
        default: return nil
        }
    }

    static func perTensor(_ scale: Float, zeroPoint: Int32 = 0, symmetric: Bool = true, bitwidth: Int = 8) -> AimetTensorEncoding {
        AimetTensorEncoding(name: "w", bitwidth: bitwidth, isSymmetric: symmetric, granularity: .perTensor,
                            scales: [scale], zeroPoints: [zeroPoint])
    }

    static let invalidEncodings: [(String, AimetTensorEncoding)] = [
        ("zero scale", perTensor(0)),
        ("negative scale", perTensor(-0.5)),
        ("NaN scale", perTensor(.nan)),
        ("infinite scale", perTensor(.infinity)),
        ("symmetric with a zero point", perTensor(0.1, zeroPoint: 3)),
        ("asymmetric zero point above the grid", perTensor(0.1, zeroPoint: 256, symmetric: false)),
        ("asymmetric negative zero point", perTensor(0.1, zeroPoint: -1, symmetric: false)),
        ("bitwidth 1", perTensor(0.1, bitwidth: 1)),
        ("bitwidth 33", perTensor(0.1, bitwidth: 33)),
        ("per-tensor with two scales",
         AimetTensorEncoding(name: "w", bitwidth: 8, isSymmetric: true, granularity: .perTensor, scales: [0.1, 0.2])),
        ("zero points do not match scales",
         AimetTensorEncoding(name: "w", bitwidth: 8, isSymmetric: false, granularity: .perChannel(axis: 0),
                             scales: [0.1, 0.2], zeroPoints: [1])),
        ("no scales", AimetTensorEncoding(name: "w", bitwidth: 8, isSymmetric: true, granularity: .perChannel(axis: 0), scales: [])),
        ("block size 0",
         AimetTensorEncoding(name: "w", bitwidth: 4, isSymmetric: true,
                             granularity: .perBlock(channelAxis: 0, blockAxis: 1, blockSize: 0), scales: [0.1])),
        ("same channel and block axis",
         AimetTensorEncoding(name: "w", bitwidth: 4, isSymmetric: true,
                             granularity: .perBlock(channelAxis: 1, blockAxis: 1, blockSize: 8), scales: [0.1])),
        ("LPBQ block scales do not divide into channels",
         AimetTensorEncoding(name: "w", bitwidth: 4, isSymmetric: true,
                             granularity: .lowPowerBlock(channelAxis: 0, blockAxis: 1, blockSize: 8, scaleBitwidth: 4, integerScales: [1, 2, 3]),
                             scales: [0.1, 0.2])),
        ("LPBQ block scale 0",
         AimetTensorEncoding(name: "w", bitwidth: 4, isSymmetric: true,
                             granularity: .lowPowerBlock(channelAxis: 0, blockAxis: 1, blockSize: 8, scaleBitwidth: 4, integerScales: [0, 2]),
                             scales: [0.1])),
        ("float with 8 bits", .float(name: "w", bitwidth: 8)),
        ("empty name", AimetTensorEncoding(name: "", bitwidth: 8, isSymmetric: true, granularity: .perTensor, scales: [0.1])),
    ]

    @Test(arguments: AimetEncodingVersion.allCases)
    func writerRejectsInvalidEncodings(version: AimetEncodingVersion) {
        for (label, encoding) in Self.invalidEncodings {
            let document = AimetEncodingsDocument(parameterEncodings: [encoding])
            do {
                _ = try document.json(version: version)
                Issue.record("\(label): accepted")
            } catch {
                #expect(Self.kind(of: error) == .invalidTensor, "\(label): \(error)")
            }
        }
    }

    @Test func writerRejectsRepeatedNamesAndBlocksInTheLegacyLayout() {
        let twice = AimetEncodingsDocument(activationEncodings: [Self.perTensor(0.1), Self.perTensor(0.2)])
        #expect(throws: ModelIOError.invalidTensor(tensor: "w", reason: "has two encodings in one section")) {
            try twice.json(version: .v1_0_0)
        }
        let block = AimetTensorEncoding(name: "b", bitwidth: 4, isSymmetric: true,
                                        granularity: .perBlock(channelAxis: 0, blockAxis: 1, blockSize: 8), scales: [0.1])
        #expect(throws: ModelIOError.self) { try AimetEncodingsDocument(parameterEncodings: [block]).json(version: .v0_6_1) }
        #expect(throws: Never.self) { try AimetEncodingsDocument(parameterEncodings: [block]).json(version: .v1_0_0) }
    }

    static func version1(_ entry: String) -> String {
        #"{"version": "1.0.0", "activation_encodings": [], "param_encodings": ["# + entry + "]}"
    }

    static let invalidDocuments: [(String, String, Kind)] = [
        ("unknown enc_type", version1(#"{"name": "w", "enc_type": "VECTOR", "dtype": "INT", "bw": 8, "is_sym": true, "scale": [0.1], "offset": [-128]}"#), .invalidHeader),
        ("unknown dtype", version1(#"{"name": "w", "enc_type": "PER_TENSOR", "dtype": "BFLOAT", "bw": 16}"#), .invalidHeader),
        ("zero scale", version1(#"{"name": "w", "enc_type": "PER_TENSOR", "dtype": "INT", "bw": 8, "is_sym": true, "scale": [0], "offset": [-128]}"#), .invalidHeader),
        ("negative scale", version1(#"{"name": "w", "enc_type": "PER_TENSOR", "dtype": "INT", "bw": 8, "is_sym": true, "scale": [-0.1], "offset": [-128]}"#), .invalidHeader),
        ("overflowing scale", version1(#"{"name": "w", "enc_type": "PER_TENSOR", "dtype": "INT", "bw": 8, "is_sym": true, "scale": [1e999], "offset": [-128]}"#), .invalidHeader),
        ("scale and offset counts differ", version1(#"{"name": "w", "enc_type": "PER_CHANNEL", "dtype": "INT", "bw": 8, "is_sym": true, "scale": [0.1, 0.2], "offset": [-128]}"#), .invalidHeader),
        ("symmetric offset off the grid", version1(#"{"name": "w", "enc_type": "PER_TENSOR", "dtype": "INT", "bw": 8, "is_sym": true, "scale": [0.1], "offset": [-5]}"#), .invalidHeader),
        ("asymmetric offset puts zero off the grid", version1(#"{"name": "w", "enc_type": "PER_TENSOR", "dtype": "INT", "bw": 8, "is_sym": false, "scale": [0.1], "offset": [3]}"#), .invalidHeader),
        ("per-block without block_size", version1(#"{"name": "w", "enc_type": "PER_BLOCK", "dtype": "INT", "bw": 4, "is_sym": true, "scale": [0.1], "offset": [-8]}"#), .invalidHeader),
        ("LPBQ with the wrong offset", version1(#"{"name": "w", "enc_type": "LPBQ", "dtype": "INT", "bw": 8, "compressed_bw": 4, "block_size": 4, "is_sym": true, "scale": [0.1], "offset": [-8], "per_block_int_scale": [1, 2]}"#), .invalidHeader),
        ("is_sym as a string in 1.0.0", version1(#"{"name": "w", "enc_type": "PER_TENSOR", "dtype": "INT", "bw": 8, "is_sym": "True", "scale": [0.1], "offset": [-128]}"#), .invalidHeader),
        ("missing name", version1(#"{"enc_type": "PER_TENSOR", "dtype": "FLOAT", "bw": 16}"#), .invalidHeader),
        ("legacy channels disagree", #"{"version": "0.6.1", "param_encodings": {"w": [{"bitwidth": 8, "dtype": "int", "is_symmetric": "True", "offset": -128, "scale": 0.1}, {"bitwidth": 4, "dtype": "int", "is_symmetric": "True", "offset": -8, "scale": 0.1}]}}"#, .invalidHeader),
        ("legacy fractional offset", #"{"version": "0.6.1", "param_encodings": {"w": [{"bitwidth": 8, "dtype": "int", "is_symmetric": "False", "offset": -12.5, "scale": 0.1}]}}"#, .invalidHeader),
        ("legacy empty list", #"{"version": "0.6.1", "param_encodings": {"w": []}}"#, .invalidHeader),
        ("sections of the wrong layout", #"{"version": "1.0.0", "param_encodings": {"w": []}}"#, .invalidHeader),
        ("not an object", "[1, 2]", .invalidHeader),
        ("unknown version", #"{"version": "9.9.9"}"#, .unsupportedFormat),
        ("malformed JSON", #"{"version": "1.0.0", "#, .invalidJSON),
    ]

    @Test func readerRejectsInvalidDocuments() {
        for (label, text, kind) in Self.invalidDocuments {
            do {
                let value = try JSONParser.parse(text, path: "bad.encodings")
                _ = try AimetEncodingsDocument(json: value, path: "bad.encodings")
                Issue.record("\(label): accepted")
            } catch {
                #expect(Self.kind(of: error) == kind, "\(label): \(error)")
                if case let .invalidHeader(path, reason)? = error as? ModelIOError, label != "not an object",
                   label != "sections of the wrong layout", label != "missing name" {
                    #expect(path == "bad.encodings" && reason.contains("'w'"), "\(label): \(reason)")
                }
            }
        }
    }

    @Test func missingFileIsReported() {
        #expect(throws: ModelIOError.self) { try AimetEncodingsDocument(contentsOfFile: "/nonexistent/model.encodings") }
    }
}

import Foundation
import QuantCore
import Testing

@Suite struct QuantSchemeTests {
    @Test(arguments: [(2, Symmetry.symmetric, Int32(-1), Int32(1)), (4, .symmetric, -7, 7), (8, .symmetric, -127, 127),
                      (16, .symmetric, -32767, 32767), (4, .asymmetric, 0, 15), (8, .asymmetric, 0, 255), (16, .asymmetric, 0, 65535)])
    func quantizedRanges(bits: Int, symmetry: Symmetry, low: Int32, high: Int32) throws {
        let scheme = try QuantScheme(bits: bits, symmetry: symmetry, granularity: .perTensor)
        #expect(scheme.quantizedRange == low...high)
    }

    @Test(arguments: [1, 0, 17, 32, -8])
    func invalidBitWidthsAreRejected(bits: Int) {
        #expect(throws: QuantizationError.invalidBitWidth(bits)) {
            try QuantScheme(bits: bits, symmetry: .symmetric, granularity: .perTensor)
        }
    }

    @Test func granularityParsing() throws {
        #expect(try Granularity(parsing: "per-tensor") == .perTensor)
        #expect(try Granularity(parsing: "per-channel") == .perChannel(axis: 0))
        #expect(try Granularity(parsing: "per-block:32") == .perBlock(axis: 1, size: 32))
        for text in ["per-block:32", "per-tensor", "per-channel"] {
            #expect(try Granularity(parsing: text).description == text)
        }
        for bad in ["per-block:0", "per-block:-4", "per-block:", "per-block:x", "channel", "", "Per-Tensor"] {
            do {
                _ = try Granularity(parsing: bad)
                Issue.record("accepted '\(bad)'")
            } catch let error as QuantizationError {
                #expect(error == .invalidOption(option: "granularity", value: bad, allowed: Granularity.allowedSpellings))
                #expect(error.description.contains("per-tensor, per-channel, per-block:N"))
            }
        }
    }

    @Test func otherOptionParsing() throws {
        #expect(try Symmetry(parsing: "asymmetric") == .asymmetric)
        #expect(throws: QuantizationError.self) { try Symmetry(parsing: "signed") }
        #expect(try QuantScheme.bitWidth(parsing: "int4") == 4)
        #expect(try QuantScheme.bitWidth(parsing: "int16") == 16)
        #expect(try QuantScheme.bitWidth(parsing: "8") == 8)
        for bad in ["int1", "int32", "float", "int"] {
            #expect(throws: QuantizationError.self) { try QuantScheme.bitWidth(parsing: bad) }
        }
        #expect(try RangeEstimator(parsing: "minmax") == .minMax)
        #expect(try RangeEstimator(parsing: "sqnr") == .sqnr)
        #expect(try RangeEstimator(parsing: "mse") == .mse)
        #expect(try RangeEstimator(parsing: "percentile:99.9") == .percentile(99.9))
        for bad in ["percentile:40", "percentile:101", "percentile", "tf_enhanced", "MSE"] {
            #expect(throws: QuantizationError.invalidOption(option: "range estimator", value: bad, allowed: RangeEstimator.allowedSpellings)) {
                try RangeEstimator(parsing: bad)
            }
        }
    }

    @Test func codableRoundTripsWithExplicitKeys() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for granularity in [Granularity.perTensor, .perChannel(axis: 0), .perBlock(axis: 1, size: 64)] {
            let scheme = try QuantScheme(bits: 4, symmetry: .asymmetric, granularity: granularity)
            let data = try encoder.encode(scheme)
            #expect(try JSONDecoder().decode(QuantScheme.self, from: data) == scheme)
        }
        let block = try encoder.encode(Granularity.perBlock(axis: 1, size: 32))
        #expect(String(decoding: block, as: UTF8.self) == #"{"axis":1,"block_size":32,"kind":"per_block"}"#)
        for estimator in [RangeEstimator.minMax, .percentile(99.5), .sqnr, .mse] {
            #expect(try JSONDecoder().decode(RangeEstimator.self, from: encoder.encode(estimator)) == estimator)
        }
        let badBits = Data(#"{"bits":40,"symmetry":"symmetric","granularity":{"kind":"per_tensor"}}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(QuantScheme.self, from: badBits) }

        let scheme = try QuantScheme(bits: 8, symmetry: .asymmetric, granularity: .perChannel(axis: 0))
        let encoding = try Encoding(minimums: [-1, 0, -3], maximums: [1, 2, 0.5], scheme: scheme, shape: [3, 4], tensorName: "t")
        #expect(try JSONDecoder().decode(Encoding.self, from: encoder.encode(encoding)) == encoding)
        let badEncoding = Data(#"{"scheme":{"bits":8,"symmetry":"symmetric","granularity":{"kind":"per_tensor"}},"scale_shape":[],"scales":[1],"zero_points":[3]}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Encoding.self, from: badEncoding) }
    }
}

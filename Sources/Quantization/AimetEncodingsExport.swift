import ModelIO
import QuantCore

/// Maps a calibration's encodings onto AIMET's encodings file (`encodings.json`); the grid
/// conversion to AIMET's offsets happens inside ModelIO's AIMET writer only.
public enum AimetEncodingsExport {
    /// The AIMET document for `calibration`: parameter entries by checkpoint tensor name,
    /// activation entries by the name of the node whose output they quantize.
    public static func document(for calibration: CalibrationResult) -> AimetEncodingsDocument {
        let parameters = calibration.weightEncodings.keys.sorted().map { entry(name: $0, calibration.weightEncodings[$0]!) }
        let activations = calibration.activationEncodings.keys.sorted().map { entry(name: $0, calibration.activationEncodings[$0]!) }
        let recipe = calibration.recipe
        let arguments = AimetQuantizerArguments(
            activationBitwidth: recipe.activations.bits ?? 32, parameterBitwidth: recipe.weights.bits,
            dataType: .int, isSymmetric: recipe.weights.symmetry == .symmetric,
            perChannelQuantization: recipe.weights.granularity != .perTensor,
            quantScheme: schemeName(recipe.activations == .float ? recipe.weightEstimator : recipe.activationEstimator))
        return AimetEncodingsDocument(activationEncodings: activations, parameterEncodings: parameters, quantizerArguments: arguments)
    }

    /// `encodings.json` (AIMET 1.0.0) as the extra file of an export.
    public static func files(for calibration: CalibrationResult, version: AimetEncodingVersion = .v1_0_0) throws -> [String: [UInt8]] {
        ["encodings.json": Array((try document(for: calibration).jsonText(version: version) + "\n").utf8)]
    }

    static func entry(name: String, _ encoding: Encoding) -> AimetTensorEncoding {
        let granularity: AimetEncodingGranularity
        switch encoding.scheme.granularity {
        case .perTensor: granularity = .perTensor
        case let .perChannel(axis): granularity = .perChannel(axis: axis)
        case let .perBlock(axis, size): granularity = .perBlock(channelAxis: 0, blockAxis: axis, blockSize: size)
        }
        return AimetTensorEncoding(name: name, bitwidth: encoding.scheme.bits, isSymmetric: encoding.scheme.symmetry == .symmetric,
                                   granularity: granularity, scales: encoding.scales, zeroPoints: encoding.zeroPoints)
    }

    /// AIMET's name for a range-setting method.
    static func schemeName(_ estimator: RangeEstimator) -> String {
        switch estimator {
        case .minMax: return "post_training_tf"
        case .sqnr: return "post_training_tf_enhanced"
        case .percentile: return "post_training_percentile"
        case .mse: return "post_training_mse"
        }
    }
}

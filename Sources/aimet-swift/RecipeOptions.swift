import AimetSwift
import ArgumentParser
import Foundation

/// The recipe options shared by the commands that quantize.
struct RecipeOptions: ParsableArguments {
    @Option(name: .long, help: "Weight bit width: int4, int8 or int16.")
    var weights = "int8"

    @Option(name: .long, help: "Activations: int8, int16 or float.")
    var activations = "int8"

    @Option(name: .long, help: "Weight granularity: per-tensor, per-channel or per-block:N.")
    var granularity = "per-channel"

    @Flag(name: .long, help: "Asymmetric weights (unsigned grid with zero points).")
    var asymmetric = false

    @Option(name: .long, help: "Activation range estimator: minmax, percentile:P, sqnr or mse.")
    var estimator = "sqnr"

    @Option(name: .long, help: "Weight range estimator: minmax, percentile:P, sqnr or mse (default: minmax; mse with --techniques adaround, whose rounding works within the chosen range).")
    var weightEstimator: String?

    @Option(name: .long, help: "Embedding tables: int8, int4 or float (per row).")
    var embeddings = "int8"

    @Option(name: .long, help: "With int8 activations: move to 16 bits each activation quantizer that alone costs more than this in output cosine (0 disables).")
    var sixteenBitThreshold = QuantizationRecipe.defaultSixteenBitThreshold

    @Option(name: .long, help: "Techniques to apply, comma-separated: \(QuantizationTechnique.allCases.map(\.rawValue).joined(separator: ", ")).")
    var techniques: String?

    @Option(name: .long, help: "AdaRound steps per layer (default: 10000 for ≥ 8-bit weights, 15000 below).")
    var adaroundIterations: Int?

    @Flag(name: .long, help: "With cle: replace ReLU6 by ReLU as AIMET does, instead of keeping its clip exact with per-channel ceilings.")
    var cleReplaceRelu6 = false

    @Option(name: .long, help: "A recipe JSON file; replaces the options above.")
    var config: String?

    func validate() throws {
        if let adaroundIterations, adaroundIterations < 1 {
            throw ValidationError("--adaround-iterations must be at least 1, got \(adaroundIterations)")
        }
        _ = try recipe()
    }

    /// The weight range estimator when `--weight-estimator` is not given: minmax, or mse with
    /// AdaRound (AIMET's AdaRound also picks weight ranges by error, with its SQNR-based
    /// "tf-enhanced" scheme, rather than min-max; measured on MiniLM W4 per-channel: 0.955 with
    /// min-max ranges, 0.974 with mse).
    func defaultWeightEstimator(techniques: [QuantizationTechnique]) -> String {
        techniques.contains(.adaround) ? "mse" : "minmax"
    }

    /// The techniques named by `--techniques`, in order, without repeats.
    func parsedTechniques() throws -> [QuantizationTechnique] {
        guard let techniques else { return [] }
        var result: [QuantizationTechnique] = []
        for name in techniques.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let technique = QuantizationTechnique(rawValue: trimmed) else {
                let allowed = QuantizationTechnique.allCases.map(\.rawValue).joined(separator: ", ")
                throw ValidationError("--techniques: unknown technique '\(trimmed)'; allowed: \(allowed)")
            }
            if !result.contains(technique) { result.append(technique) }
        }
        return result
    }

    /// The recipe the options describe (or the `--config` file's).
    func recipe() throws -> QuantizationRecipe {
        if let config {
            let file = try MappedFile(path: config)
            do {
                return try JSONDecoder().decode(QuantizationRecipe.self, from: Data(file.bytes))
            } catch {
                throw ValidationError("\(config): not a valid recipe: \(error)")
            }
        }
        do {
            let weightScheme = try QuantScheme(bits: try QuantScheme.bitWidth(parsing: weights),
                                               symmetry: asymmetric ? .asymmetric : .symmetric,
                                               granularity: try Granularity(parsing: granularity))
            guard let precision = ActivationPrecision(rawValue: activations) else {
                throw ValidationError("--activations must be one of \(ActivationPrecision.allCases.map(\.rawValue).joined(separator: ", ")), got '\(activations)'")
            }
            let embeddingScheme: QuantScheme? = embeddings == "float" ? nil
                : try QuantScheme(bits: try QuantScheme.bitWidth(parsing: embeddings), symmetry: .symmetric, granularity: .perChannel(axis: 0))
            var recipe = QuantizationRecipe(weights: weightScheme, weightEstimator: try RangeEstimator(parsing: weightEstimator ?? defaultWeightEstimator(techniques: try parsedTechniques())),
                                            activations: precision, activationEstimator: try RangeEstimator(parsing: estimator),
                                            embeddings: embeddingScheme,
                                            sixteenBitThreshold: sixteenBitThreshold > 0 ? sixteenBitThreshold : nil,
                                            techniques: try parsedTechniques(), adaroundIterations: adaroundIterations)
            recipe.equalizationReplacesReLU6 = cleReplaceRelu6
            return recipe
        } catch let error as QuantizationError {
            throw ValidationError("\(error)")
        }
    }
}

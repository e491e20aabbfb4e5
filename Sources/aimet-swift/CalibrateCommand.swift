import AimetSwift
import ArgumentParser
import Foundation

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Run calibration inputs (prompts or images) through a model and compute the encodings of a recipe.",
        discussion: """
            Text models: --model FOLDER --prompts FILE. Image classifiers: --model FILE.pth|FILE.safetensors --arch \
            mobilenet_v2|efficientnet_lite0, or --model FILE.hdf5 (Keras, structure from its model_config), with \
            --images DIR. Writes OUTPUT/calibration.json (plus the rewritten graph for classifiers), which `export` \
            turns into a compressed model.
            """
    )

    @Option(name: .long, help: "A sentence-transformers model folder, an image classifier's state dict (with --arch) or a Keras .hdf5 file.")
    var model: String

    @Option(name: .long, help: "The built-in architecture of a state dict: \(BuiltInArchitecture.names.joined(separator: ", ")).")
    var arch: String?

    @Option(name: .long, help: "Calibration prompts, one per line (Calibration/text/calibration.txt).")
    var prompts: String?

    @Option(name: .long, help: "A folder of calibration images (PNG or JPEG) for an image classifier.")
    var images: String?

    @Option(name: .long, help: "Augmented views (crops, scales, flips) per calibration image.")
    var views = 1

    @OptionGroup var recipeOptions: RecipeOptions

    @Option(name: .long, help: "Use only the first N prompts or image inputs.")
    var numSamples: Int?

    @Option(name: .long, help: "The calibration folder to write.")
    var output: String

    func validate() throws {
        if let numSamples, numSamples < 1 { throw ValidationError("--num-samples must be at least 1, got \(numSamples)") }
        if views < 1 { throw ValidationError("--views must be at least 1, got \(views)") }
        guard (prompts == nil) != (images == nil) else {
            throw ValidationError("give exactly one of --prompts (text models) and --images (image classifiers)")
        }
        if let arch, !BuiltInArchitecture.names.contains(arch) {
            throw ValidationError("--arch must be one of \(BuiltInArchitecture.names.joined(separator: ", ")), got '\(arch)'")
        }
    }

    func run() throws {
        if let images { return try calibrateClassifier(images: images) }
        guard let prompts else { return }
        var lines = try TextFile.lines(atPath: prompts)
        if let numSamples { lines = Array(lines.prefix(numSamples)) }
        let progress = ProgressLine(label: "calibrating")
        let started = Date()
        let result = try Calibrator.calibrate(modelFolder: model, prompts: lines, recipe: try recipeOptions.recipe(),
                                              promptsPath: prompts, progress: progress.update,
                                              adaRoundProgress: { done, total, layer in
            let outcome = layer.keptNearest ? "kept nearest" : "\(layer.flippedWeights) weights flipped"
            let losses = String(format: "loss %.4g (nearest %.4g)", layer.keptNearest ? layer.nearestLoss : layer.adaRoundLoss, layer.nearestLoss)
            let times = String(format: "%.1f s, %.0f s in all", layer.seconds, Date().timeIntervalSince(started))
            printError("adaround \(done)/\(total) \(layer.node): \(losses), \(outcome), \(times)")
        })
        progress.finish()
        try result.write(toFolder: output)
        for note in result.notes where !note.contains("supergroup") { printError("note: \(note)") }
        print("calibrated \(result.weightEncodings.count) weights and \(result.activationEncodings.count) activation quantizers on \(result.sampleCount) prompts -> \(output)/\(CalibrationResult.fileName)")
    }

    /// The image-classifier path: techniques, then encodings of the rewritten graph.
    func calibrateClassifier(images: String) throws {
        let recipe = try recipeOptions.recipe()
        let classifier = try ImageClassifier.load(path: model, architecture: arch)
        let techniques = try ClassifierCalibration.Techniques(recipe, model: model)
        var (inputs, warnings) = try classifier.inputs(folder: images, views: views, seed: recipe.seed)
        if let numSamples { inputs = Array(inputs.prefix(numSamples)) }
        for warning in warnings { printError("warning: \(warning)") }
        let progress = ProgressLine(label: "calibrating")
        let started = Date()
        let result = try ClassifierCalibration.calibrate(classifier, inputs: inputs, source: images, recipe: recipe,
                                                         techniques: techniques, progress: progress.update,
                                                         adaRoundProgress: { done, total, layer in
            let outcome = layer.keptNearest ? "kept nearest" : "\(layer.flippedWeights) weights flipped"
            let losses = String(format: "loss %.4g (nearest %.4g)", layer.keptNearest ? layer.nearestLoss : layer.adaRoundLoss, layer.nearestLoss)
            let times = String(format: "%.1f s, %.0f s in all", layer.seconds, Date().timeIntervalSince(started))
            printError("adaround \(done)/\(total) \(layer.node): \(losses), \(outcome), \(layer.rows) rows, \(times)")
        })
        progress.finish()
        try result.write(toFolder: output)
        for note in result.result.notes where !note.contains("supergroup") && !note.hasPrefix("  ") { printError("note: \(note)") }
        print("calibrated \(result.result.weightEncodings.count) weights and \(result.result.activationEncodings.count) activation quantizers on \(inputs.count) image inputs -> \(output)/\(CalibrationResult.fileName)")
    }
}

/// A one-line progress bar on standard error, shown only when it is a terminal.
final class ProgressLine: @unchecked Sendable {
    let label: String
    let enabled = isatty(2) != 0
    private var last = -1

    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let percent = done * 100 / total
        guard percent != last else { return }
        last = percent
        let width = 30
        let filled = width * done / total
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total)".utf8))
    }

    func finish() {
        if enabled, last >= 0 { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

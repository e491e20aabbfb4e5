import AimetSwift
import ArgumentParser
import Foundation

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Run calibration prompts through a model and compute the encodings of a recipe.",
        discussion: "Writes OUTPUT/calibration.json, which `export` turns into a compressed model."
    )

    @Option(name: .long, help: "A Hugging Face sentence-transformers model folder.")
    var model: String

    @Option(name: .long, help: "Calibration prompts, one per line (Calibration/text/calibration.txt).")
    var prompts: String

    @OptionGroup var recipeOptions: RecipeOptions

    @Option(name: .long, help: "Use only the first N prompts.")
    var numSamples: Int?

    @Option(name: .long, help: "The calibration folder to write.")
    var output: String

    func validate() throws {
        if let numSamples, numSamples < 1 { throw ValidationError("--num-samples must be at least 1, got \(numSamples)") }
    }

    func run() throws {
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

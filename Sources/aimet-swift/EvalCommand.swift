import AimetSwift
import ArgumentParser
import Foundation

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure a compressed model against its reference on held-out inputs.",
        discussion: "Writes the report as JSON (versioned schema) and Markdown beside it (same name, .md)."
    )

    @Option(name: .long, help: "The reference (fp32) model folder.")
    var reference: String

    @Option(name: .long, help: "The candidate model folder (compressed or fp32).")
    var candidate: String

    @Option(name: .long, help: "Held-out inputs, one per line (Calibration/text/heldout.txt).")
    var input: String

    @Option(name: .long, help: "The report to write (JSON).")
    var report: String

    @Option(name: .long, help: "Use only the first N inputs.")
    var numSamples: Int?

    @Flag(name: .long, help: "Skip the speed measurement.")
    var noSpeed = false

    func run() throws {
        var inputs = try TextFile.lines(atPath: input)
        if let numSamples { inputs = Array(inputs.prefix(numSamples)) }
        let referenceModel = try ModelLoader.embeddingModel(folder: reference)
        let candidateModel = try ModelLoader.embeddingModel(folder: candidate)
        var options = Evaluator.Options()
        options.measureSpeed = !noSpeed
        let recipe = CompressedModel.isCompressed(folder: candidate) ? try CompressedModel(folder: candidate).recipe : .null
        let result = try Evaluator.evaluate(reference: referenceModel, candidate: candidateModel, inputs: inputs, inputFile: input,
                                            recipe: recipe, notes: ModelLoader.notes(folder: candidate), options: options)
        try TextFile.write(JSONWriter(sortedKeys: true, indent: 2).string(result.json) + "\n", toPath: report)
        let markdownPath = (report.hasSuffix(".json") ? String(report.dropLast(5)) : report) + ".md"
        try TextFile.write(result.markdown, toPath: markdownPath)
        print(result.markdown, terminator: "")
    }
}

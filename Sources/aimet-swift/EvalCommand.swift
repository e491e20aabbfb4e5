import AimetSwift
import ArgumentParser
import Foundation

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure a compressed model against its reference on held-out inputs (text lines or images).",
        discussion: """
            Text models: --input FILE (embedding fidelity, speed, sizes). Image classifiers: --images DIR (top-1 / \
            top-5 agreement and mean KL against the reference; --arch names a state dict's architecture). Writes the \
            report as JSON (versioned schema) and Markdown beside it (same name, .md).
            """
    )

    @Option(name: .long, help: "The reference (fp32) model: a folder, or an image classifier's file.")
    var reference: String

    @Option(name: .long, help: "The built-in architecture of a reference state dict: \(BuiltInArchitecture.names.joined(separator: ", ")).")
    var arch: String?

    @Option(name: .long, help: "The candidate model folder (compressed or fp32); with --images it may be repeated to put several candidates side by side in one report.")
    var candidate: [String]

    @Option(name: .long, help: "Held-out inputs, one per line (Calibration/text/heldout.txt).")
    var input: String?

    @Option(name: .long, help: "A folder of held-out images (PNG or JPEG) for image classifiers.")
    var images: String?

    @Option(name: .long, help: "Augmented views (crops, scales, flips) per held-out image.")
    var views = 1

    @Option(name: .long, help: "The report to write (JSON).")
    var report: String

    @Option(name: .long, help: "Use only the first N inputs.")
    var numSamples: Int?

    @Flag(name: .long, help: "Skip the speed measurement.")
    var noSpeed = false

    func validate() throws {
        guard (input == nil) != (images == nil) else {
            throw ValidationError("give exactly one of --input (text models) and --images (image classifiers)")
        }
        if views < 1 { throw ValidationError("--views must be at least 1, got \(views)") }
        if candidate.isEmpty || (images == nil && candidate.count != 1) {
            throw ValidationError("give one --candidate (several only with --images)")
        }
    }

    func run() throws {
        let markdownPath = (report.hasSuffix(".json") ? String(report.dropLast(5)) : report) + ".md"
        if let images {
            let result = try evaluateClassifier(images: images)
            try AtomicFile.write(try result.jsonData() + Data("\n".utf8), to: report)
            try TextFile.write(result.markdown, toPath: markdownPath)
            print(result.markdown, terminator: "")
            return
        }
        guard let input else { return }
        var inputs = try TextFile.lines(atPath: input)
        if let numSamples { inputs = Array(inputs.prefix(numSamples)) }
        let candidate = self.candidate[0]
        let referenceModel = try ModelLoader.embeddingModel(folder: reference)
        let candidateModel = try ModelLoader.embeddingModel(folder: candidate)
        var options = Evaluator.Options()
        options.measureSpeed = !noSpeed
        let recipe = CompressedModel.isCompressed(folder: candidate) ? try CompressedModel(folder: candidate).recipe : .null
        let result = try Evaluator.evaluate(reference: referenceModel, candidate: candidateModel, inputs: inputs, inputFile: input,
                                            recipe: recipe, notes: ModelLoader.notes(folder: candidate), options: options)
        try TextFile.write(JSONWriter(sortedKeys: true, indent: 2).string(result.json) + "\n", toPath: report)
        try TextFile.write(result.markdown, toPath: markdownPath)
        print(result.markdown, terminator: "")
    }

    func evaluateClassifier(images: String) throws -> ClassificationReport {
        let referenceModel = try ImageClassifier.load(path: reference, architecture: arch)
        var (inputs, warnings) = try referenceModel.inputs(folder: images, views: views)
        if let numSamples { inputs = Array(inputs.prefix(numSamples)) }
        for warning in warnings { printError("warning: \(warning)") }
        let candidates = try candidate.map { path in
            // Compressed classifiers run on the integer kernels (fp32 folders as they are).
            let runner = try ClassifierEvaluation.Runner(compressedFolder: path)
            let notes = try ModelLoader.notes(folder: path) + ClassifierExport.calibrationNotes(of: path)
            return (label: URL(fileURLWithPath: path).lastPathComponent, runner: runner, notes: notes)
        }
        return try ClassifierEvaluation.evaluate(reference: ClassifierEvaluation.Runner(referenceModel), candidates: candidates,
                                                 inputs: inputs, inputDescription: "\(images), \(views) view(s) per image",
                                                 timingRuns: noSpeed ? 0 : 5)
    }
}

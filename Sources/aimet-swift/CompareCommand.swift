import AimetSwift
import ArgumentParser
import Foundation

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare a quality report with a baseline; exit non-zero when a gate fails.",
        discussion: "Prints a Markdown table of the differences. Quality gates are for CI; speed gates for benchmarks."
    )

    @Argument(help: "The baseline report (JSON written by `eval`).")
    var baseline: String

    @Argument(help: "The new report.")
    var candidate: String

    @Option(name: .long, help: "Fail when the mean cosine drops by more than this (e.g. 0.0005).")
    var maxCosineDrop: Double?

    @Option(name: .long, help: "Fail when throughput falls by more than this factor (e.g. 1.1).")
    var maxSlowdown: Double?

    func validate() throws {
        if let maxCosineDrop, !(0...2).contains(maxCosineDrop) {
            throw ValidationError("--max-cosine-drop must be between 0 and 2, got \(maxCosineDrop)")
        }
        if let maxSlowdown, maxSlowdown < 1 { throw ValidationError("--max-slowdown must be at least 1, got \(maxSlowdown)") }
    }

    func run() throws {
        let comparison = ReportComparison(baseline: try Self.load(baseline), candidate: try Self.load(candidate),
                                          maximumCosineDrop: maxCosineDrop, maximumSlowdown: maxSlowdown)
        print(comparison.markdown, terminator: "")
        if !comparison.passed { throw ExitCode(1) }
    }

    static func load(_ path: String) throws -> QualityReport {
        let file = try MappedFile(path: path)
        return try QualityReport(json: try JSONParser.parse(file.bytes, path: path), path: path)
    }
}

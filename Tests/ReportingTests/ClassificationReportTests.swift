import Foundation
import Reporting
import Testing

@Suite struct ClassificationReportTests {
    static func report(notes: [String]) -> ClassificationReport {
        ClassificationReport(referencePath: "fp32.pth", inputs: "images", inputCount: 320, referenceLatencyMilliseconds: 20,
                             candidates: [.init(label: "w8a8", candidatePath: "out", top1: 0.9, top5: 1, meanKLDivergence: 0.05,
                                                latencyMilliseconds: 15, notes: notes)])
    }

    @Test func markdownCountsSupergroupsWhileJSONKeepsEveryLine() throws {
        let notes = ["a.conv + a.relu: one supergroup, quantized after the activation",
                     "b.conv + b.relu: one supergroup, quantized after the activation",
                     "2 activation quantizers moved to 16 bits: x, y"]
        let report = Self.report(notes: notes)
        let markdown = report.markdown
        #expect(!markdown.contains("a.conv + a.relu"))
        #expect(markdown.contains("- 2 activation quantizers moved to 16 bits: x, y"))
        #expect(markdown.contains("- 2 supergroups"))
        let decoded = try ClassificationReport.decode(try report.jsonData(), path: "report.json")
        #expect(decoded.candidates[0].notes == notes)
    }

    @Test func notesWithoutSupergroupsStayAsTheyAre() {
        let markdown = Self.report(notes: ["bias correction: 52 layers"]).markdown
        #expect(markdown.contains("- bias correction: 52 layers"))
        #expect(!markdown.contains("supergroups"))
    }
}

import ModelIO
import Reporting
import Testing

func sampleReport(meanCosine: Double = 0.9995, throughput: Double = 40) -> QualityReport {
    QualityReport(
        referencePath: "fp32", candidatePath: "w8a16", recipe: .object(JSONObject([("weights", .string("int8"))])),
        inputFile: "Calibration/text/heldout.txt",
        fidelity: .init(meanCosine: meanCosine, p5Cosine: meanCosine - 0.0005, minimumCosine: meanCosine - 0.002,
                        nearestNeighbourAgreement: 0.998, inputCount: 500),
        layers: [.init(name: "encoder.layer.0.attention.self.query", decibels: 38.25), .init(name: "identical", decibels: .infinity)],
        referenceSpeed: .init(latencyMilliseconds: 6.1, throughputPerSecond: 42),
        candidateSpeed: .init(latencyMilliseconds: 5.2, throughputPerSecond: throughput),
        referenceBytes: 90_868_376, candidateBytes: 23_000_000, notes: ["2 activation quantizers kept at 16 bits: a, b"])
}

@Suite struct QualityReportTests {
    @Test func jsonRoundTripsThroughTextWithSortedKeys() throws {
        let report = sampleReport()
        let text = JSONWriter(sortedKeys: true, indent: 2).string(report.json)
        let parsed = try QualityReport(json: try JSONParser.parse(text, path: "report.json"), path: "report.json")
        // Written values are rounded (6 decimals for cosines); reading and writing again is exact.
        #expect(JSONWriter(sortedKeys: true, indent: 2).string(parsed.json) == text)
        #expect(parsed.fidelity.meanCosine == 0.9995 && parsed.layers[1].decibels == .infinity)
        #expect(parsed.candidateSpeed == report.candidateSpeed && parsed.notes == report.notes)
        #expect(text.contains("\"schema\": \"aimet-swift.quality\""))
    }

    @Test func wrongSchemaOrVersionIsRejectedWithThePath() throws {
        var json = sampleReport().json.objectValue!
        json["schema_version"] = .integer(99)
        #expect(throws: ReportingError.self) { try QualityReport(json: .object(json), path: "old.json") }
        #expect(throws: ReportingError.invalidReport(path: "x.json", reason: "schema is not 'aimet-swift.quality'")) {
            try QualityReport(json: .object(JSONObject()), path: "x.json")
        }
    }

    @Test func markdownShowsTheNumbers() {
        let text = sampleReport().markdown
        #expect(text.contains("| 0.99950 | 0.99900 | 0.99750 | 99.8% |"))
        #expect(text.contains("25.3%"))
        #expect(text.contains("| identical | ∞ |"))
        #expect(text.contains("2 activation quantizers kept at 16 bits"))
    }
}

@Suite struct ReportComparisonTests {
    @Test func qualityGatePassesWithinTheAllowedDrop() {
        let comparison = ReportComparison(baseline: sampleReport(meanCosine: 0.9995), candidate: sampleReport(meanCosine: 0.9993),
                                          maximumCosineDrop: 0.0005, maximumSlowdown: nil)
        #expect(comparison.passed)
        #expect(comparison.markdown.contains("All gates passed."))
    }

    @Test func qualityGateFailsBeyondTheAllowedDrop() {
        let comparison = ReportComparison(baseline: sampleReport(meanCosine: 0.9995), candidate: sampleReport(meanCosine: 0.9980),
                                          maximumCosineDrop: 0.001, maximumSlowdown: nil)
        #expect(!comparison.passed)
        #expect(comparison.markdown.contains("**FAIL**"))
    }

    @Test func speedGateOnlyWhenAsked() {
        let slower = sampleReport(throughput: 20)
        #expect(ReportComparison(baseline: sampleReport(), candidate: slower, maximumCosineDrop: nil, maximumSlowdown: nil).passed)
        #expect(!ReportComparison(baseline: sampleReport(), candidate: slower, maximumCosineDrop: nil, maximumSlowdown: 1.5).passed)
        #expect(ReportComparison(baseline: sampleReport(), candidate: slower, maximumCosineDrop: nil, maximumSlowdown: 2.5).passed)
    }
}

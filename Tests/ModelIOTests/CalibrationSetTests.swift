import AimetTestSupport
import Foundation
import ModelIO
import Testing

/// The shipped prompt sets: large enough, clean, and the held-out set shares nothing with the
/// calibration set (no identical line, no line equal after normalising case and punctuation,
/// no pair of long lines sharing most of their words).
@Suite struct CalibrationSetTests {
    static var textFolder: URL { TestLocations.repositoryRoot.appendingPathComponent("Calibration/text") }

    static func lines(_ name: String) throws -> [String] {
        try TextFile.lines(atPath: textFolder.appendingPathComponent(name).path)
    }

    /// Lower case, punctuation and symbols dropped, runs of whitespace collapsed.
    static func normalised(_ line: String) -> String {
        let kept = line.lowercased().unicodeScalars.map { scalar -> Character in
            CharacterSet.alphanumerics.contains(scalar) ? Character(scalar) : " "
        }
        return String(kept).split(separator: " ").joined(separator: " ")
    }

    /// Words too common to say anything about whether two prompts are the same sentence.
    static let stopWords: Set<Substring> = [
        "a", "an", "the", "is", "are", "was", "were", "what", "of", "and", "to", "in", "on", "for", "it", "i", "my",
        "do", "does", "how", "you", "your", "with", "be", "that", "this", "or", "at", "by", "can", "me", "why",
        "which", "there", "any",
    ]

    /// The distinct content words of a prompt (normalised, stop words removed).
    static func words(_ line: String) -> Set<Substring> {
        Set(normalised(line).split(separator: " ")).subtracting(stopWords)
    }

    @Test(arguments: [("calibration.txt", 256), ("heldout.txt", 500)])
    func setIsLargeCleanAndVaried(name: String, minimumCount: Int) throws {
        let data = try Data(contentsOf: Self.textFolder.appendingPathComponent(name))
        #expect(String(validating: Array(data), as: UTF8.self) != nil, "\(name) is not UTF-8")
        #expect(data.last == UInt8(ascii: "\n"), "\(name) should end with a line feed")
        let lines = try Self.lines(name)
        #expect(lines.count >= minimumCount)
        for (index, line) in lines.enumerated() {
            #expect(!line.trimmingCharacters(in: .whitespaces).isEmpty, "\(name):\(index + 1) is blank")
            #expect(line == line.trimmingCharacters(in: .whitespacesAndNewlines), "\(name):\(index + 1) has outer whitespace")
            #expect(!line.contains("\r") && !line.contains("\t"), "\(name):\(index + 1) has a control character")
        }
        let wordCounts = lines.map { $0.split(separator: " ").count }
        #expect(wordCounts.min() ?? 0 >= 3, "\(name): a prompt is shorter than 3 words")
        #expect(wordCounts.max() ?? 0 <= 180, "\(name): a prompt is longer than 180 words")
        // Paragraphs this long tokenize to more than 128 word pieces, so truncation runs.
        #expect(wordCounts.filter { $0 >= 110 }.count >= 3, "\(name): needs at least 3 paragraphs of ≥ 110 words")
        #expect(lines.filter { $0.hasSuffix("?") }.count >= lines.count / 10, "\(name): too few questions")
        #expect(lines.filter { $0.contains(where: \.isNumber) }.count >= lines.count / 8, "\(name): too few numbers")
        let normalisedLines = lines.map(Self.normalised)
        #expect(Set(normalisedLines).count == lines.count, "\(name) repeats a prompt")
    }

    @Test func setsAreDisjoint() throws {
        let calibration = try Self.lines("calibration.txt")
        let heldout = try Self.lines("heldout.txt")
        #expect(Set(calibration).intersection(heldout).isEmpty)
        let shared = Set(calibration.map(Self.normalised)).intersection(heldout.map(Self.normalised))
        #expect(shared.isEmpty, "shared after normalising: \(shared.sorted().prefix(5))")
    }

    /// No reworded copies: two prompts of four or more distinct content words may share at most
    /// 60 % of their combined content vocabulary (Jaccard index; the sets as shipped peak at 38 %).
    @Test func setsHaveNoNearDuplicates() throws {
        let calibration = try Self.lines("calibration.txt").map(Self.words)
        let heldout = try Self.lines("heldout.txt").map(Self.words)
        var pairs: [String] = []
        for (calibrationIndex, left) in calibration.enumerated() where left.count >= 4 {
            for (heldoutIndex, right) in heldout.enumerated() where right.count >= 4 {
                let shared = left.intersection(right).count
                let union = left.count + right.count - shared
                if Double(shared) > 0.6 * Double(union) {
                    pairs.append("calibration:\(calibrationIndex + 1) ~ heldout:\(heldoutIndex + 1)")
                }
            }
        }
        #expect(pairs.isEmpty, "\(pairs.prefix(10))")
    }
}

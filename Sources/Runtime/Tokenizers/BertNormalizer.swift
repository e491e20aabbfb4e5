import Foundation

/// The BERT text normaliser of Hugging Face `tokenizers` (`BertNormalizer`), applied in
/// its order: clean text, space out CJK ideographs, strip accents, lowercase.
public struct BertNormalizer: Sendable, Equatable {
    /// Drop NUL, U+FFFD and control characters; turn every whitespace into a space.
    public var cleanText: Bool
    /// Put a space before and after each CJK ideograph.
    public var handleChineseCharacters: Bool
    /// Decompose (NFD) and drop non-spacing marks.
    public var stripAccents: Bool
    /// Map each scalar to its full Unicode lowercase mapping (no context rules).
    public var lowercase: Bool

    /// `stripAccents` nil follows `lowercase`, as in `tokenizers`.
    public init(
        cleanText: Bool = true, handleChineseCharacters: Bool = true,
        stripAccents: Bool? = nil, lowercase: Bool = true
    ) {
        self.cleanText = cleanText
        self.handleChineseCharacters = handleChineseCharacters
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }

    /// The normalised form of `text`.
    public func normalize(_ text: String) -> String {
        var scalars = Array(text.unicodeScalars)
        normalize(&scalars)
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// Normalises a sequence of scalars in place.
    func normalize(_ scalars: inout [Unicode.Scalar]) {
        var isASCII = true
        for scalar in scalars where scalar.value >= 0x80 {
            isASCII = false
            break
        }
        if isASCII {
            normalizeASCII(&scalars)
            return
        }
        if cleanText { clean(&scalars) }
        if handleChineseCharacters { spaceChineseCharacters(&scalars) }
        if stripAccents { removeAccents(&scalars) }
        if lowercase { lowercaseScalars(&scalars) }
    }

    /// The whole pipeline for ASCII-only text (no CJK, no accents, simple case mapping).
    private func normalizeASCII(_ scalars: inout [Unicode.Scalar]) {
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(scalars.count)
        for scalar in scalars {
            var value = scalar.value
            if cleanText {
                if value == 0x09 || value == 0x0A || value == 0x0D {
                    value = 0x20
                } else if value < 0x20 || value == 0x7F {
                    continue
                }
            }
            if lowercase, value >= 0x41, value <= 0x5A { value += 0x20 }
            output.append(Unicode.Scalar(UInt8(value)))
        }
        scalars = output
    }

    private func clean(_ scalars: inout [Unicode.Scalar]) {
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(scalars.count)
        for scalar in scalars {
            if scalar.value == 0 || scalar.value == 0xFFFD || BertCharacterClass.isControl(scalar) {
                continue
            }
            output.append(BertCharacterClass.isWhitespace(scalar) ? " " : scalar)
        }
        scalars = output
    }

    private func spaceChineseCharacters(_ scalars: inout [Unicode.Scalar]) {
        guard scalars.contains(where: BertCharacterClass.isChineseCharacter) else { return }
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(scalars.count * 2)
        for scalar in scalars {
            if BertCharacterClass.isChineseCharacter(scalar) {
                output.append(" ")
                output.append(scalar)
                output.append(" ")
            } else {
                output.append(scalar)
            }
        }
        scalars = output
    }

    private func removeAccents(_ scalars: inout [Unicode.Scalar]) {
        guard scalars.contains(where: { $0.value >= 0xC0 }) else { return }
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(scalars.count + 8)
        var run = String.UnicodeScalarView()
        func decomposeRun() {
            guard !run.isEmpty else { return }
            for scalar in String(run).decomposedStringWithCanonicalMapping.unicodeScalars
            where !BertCharacterClass.isNonspacingMark(scalar) {
                output.append(scalar)
            }
            run = String.UnicodeScalarView()
        }
        for scalar in scalars {
            if scalar.value >= 0x80, BertCharacterClass.isOutsideNormalizationTables(scalar) {
                decomposeRun()
                output.append(scalar)
            } else {
                run.append(scalar)
            }
        }
        decomposeRun()
        scalars = output
    }

    private func lowercaseScalars(_ scalars: inout [Unicode.Scalar]) {
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(scalars.count)
        for scalar in scalars {
            let value = scalar.value
            if value < 0x80 {
                output.append(value >= 0x41 && value <= 0x5A ? Unicode.Scalar(UInt8(value + 0x20)) : scalar)
            } else if BertCharacterClass.changesWhenLowercased(scalar) {
                output.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            } else {
                output.append(scalar)
            }
        }
        scalars = output
    }
}

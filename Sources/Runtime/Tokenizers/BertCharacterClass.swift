/// Character classes exactly as Hugging Face `tokenizers` (0.20) defines them for BERT.
///
/// `tokenizers` takes general categories (control, format, private use, non-spacing
/// mark, punctuation) from the `unicode_categories` crate, whose tables are Unicode 8.0,
/// and canonical decompositions from a normalisation crate of the same era. A scalar
/// assigned after 8.0 is therefore in none of those categories and never decomposes, and
/// the few scalars whose category changed since 8.0 keep their 8.0 category. Whitespace
/// and case mappings come from Rust's standard library (Unicode 15 for the Rust that
/// built `tokenizers` 0.20.3); Swift's standard library supplies the same data, newer.
enum BertCharacterClass {
    /// Scalars whose general category changed after Unicode 8.0, with their 8.0 category.
    private static let categoriesInUnicode8: [UInt32: Unicode.GeneralCategory] = [
        0x166D: .otherPunctuation,  // CANADIAN SYLLABICS CHI SIGN (So today)
        0x1734: .nonspacingMark,  // HANUNOO SIGN PAMUDPOD (Mc today)
        0x1885: .otherLetter,  // MONGOLIAN LETTER ALI GALI BALUDA (Mn today)
        0x1886: .otherLetter,  // MONGOLIAN LETTER ALI GALI THREE BALUDA (Mn today)
        0xA9BD: .spacingMark,  // JAVANESE CONSONANT SIGN KERET (Mn today)
        0x111C9: .otherPunctuation,  // SHARADA SANDHI MARK (Mn today)
        0x1171E: .nonspacingMark,  // AHOM CONSONANT SIGN MEDIAL RA (Mc today)
    ]

    /// True when `age` is later than `major.minor`.
    @inline(__always)
    private static func isLater(_ age: Unicode.Version, than major: Int, _ minor: Int) -> Bool {
        age.major > major || (age.major == major && age.minor > minor)
    }

    /// The scalar's general category as of Unicode 8.0 (nil when it was unassigned then).
    private static func legacyCategory(_ scalar: Unicode.Scalar) -> Unicode.GeneralCategory? {
        if let category = categoriesInUnicode8[scalar.value] { return category }
        guard let age = scalar.properties.age, !isLater(age, than: 8, 0) else { return nil }
        return scalar.properties.generalCategory
    }

    /// True for scalars assigned after Unicode 8.0: `tokenizers` neither decomposes them
    /// nor reorders marks across them (they are starters without a mapping to it).
    @inline(__always)
    static func isOutsideNormalizationTables(_ scalar: Unicode.Scalar) -> Bool {
        guard let age = scalar.properties.age else { return false }
        return isLater(age, than: 8, 0)
    }

    /// True when Rust's `char::to_lowercase` (Unicode 15) maps the scalar to something else.
    @inline(__always)
    static func changesWhenLowercased(_ scalar: Unicode.Scalar) -> Bool {
        guard scalar.properties.changesWhenLowercased, let age = scalar.properties.age else { return false }
        return age.major <= 15
    }

    /// Rust's `char::is_whitespace` (the Unicode White_Space property).
    @inline(__always)
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 { return value == 0x20 || (value >= 0x09 && value <= 0x0D) }
        return scalar.properties.isWhitespace
    }

    /// BERT's "control" test: categories Cc, Cf, Co (Unicode 8.0) except tab, LF and CR.
    @inline(__always)
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value == 0x09 || value == 0x0A || value == 0x0D { return false }
        if value < 0x20 || value == 0x7F { return true }
        if value < 0x80 { return false }
        switch legacyCategory(scalar) {
        case .control?, .format?, .privateUse?: return true
        default: return false
        }
    }

    /// Non-spacing marks (Mn, Unicode 8.0): what accent stripping removes after NFD.
    @inline(__always)
    static func isNonspacingMark(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x300 { return false }
        return legacyCategory(scalar) == .nonspacingMark
    }

    /// BERT punctuation: the ASCII ranges 33–47, 58–64, 91–96, 123–126 plus every
    /// scalar whose Unicode 8.0 category is one of the P* categories.
    @inline(__always)
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            return (value >= 33 && value <= 47) || (value >= 58 && value <= 64)
                || (value >= 91 && value <= 96) || (value >= 123 && value <= 126)
        }
        switch legacyCategory(scalar) {
        case .connectorPunctuation?, .dashPunctuation?, .openPunctuation?, .closePunctuation?,
            .initialPunctuation?, .finalPunctuation?, .otherPunctuation?:
            return true
        default:
            return false
        }
    }

    /// The CJK ideograph blocks BERT surrounds with spaces (the ranges `tokenizers` uses).
    @inline(__always)
    static func isChineseCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
            0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}

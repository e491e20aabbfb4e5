/// Failures of the reporting layer: unreadable or incompatible reports.
public enum ReportingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A report file is not a quality report of a schema version this build reads.
    case invalidReport(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidReport(path, reason):
            return "\(path): not a readable quality report: \(reason)"
        }
    }
}

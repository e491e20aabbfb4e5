import Foundation

extension ModelIOError: LocalizedError {
    /// The same text as `description`, so Foundation-based callers show the file and tensor.
    public var errorDescription: String? { description }
}

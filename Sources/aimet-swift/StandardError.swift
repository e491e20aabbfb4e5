import Foundation

/// Writes a line to standard error (notes and warnings; results go to standard output).
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

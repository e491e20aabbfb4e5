import Foundation

func getenvString(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name]
}

func systemCores() -> Int {
    ProcessInfo.processInfo.activeProcessorCount
}

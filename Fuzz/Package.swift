// swift-tools-version:6.0
// libFuzzer targets for aimet-swift's parsers of untrusted input. A separate package so
// that the main package stays free of unsafeFlags: run `make fuzz` (Linux).
import PackageDescription

let fuzzerSettings: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "aimet-swift-fuzz",
    dependencies: [.package(name: "aimet-swift", path: "..")],
    targets: [
        .executableTarget(
            name: "FuzzSafetensorsHeader",
            dependencies: [.product(name: "AimetSwift", package: "aimet-swift")],
            swiftSettings: fuzzerSettings
        ),
        .executableTarget(
            name: "FuzzPickle",
            dependencies: [.product(name: "AimetSwift", package: "aimet-swift")],
            swiftSettings: fuzzerSettings
        ),
    ]
)

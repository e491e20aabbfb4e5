// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "aimet-swift",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "AimetSwift", targets: ["AimetSwift"]),
        .executable(name: "aimet-swift", targets: ["aimet-swift"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .target(name: "QuantCore"),
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"]), .brew(["hdf5"])]
        ),
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]
        ),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"]), .brew(["jpeg"])]),
        // AdaRound's fused element-wise step (Sources/Quantization/AdaRound uses it with cblas_sgemm).
        .target(
            name: "CAdaRound",
            linkerSettings: [.linkedLibrary("m", .when(platforms: [.linux]))]
        ),
        .target(
            name: "CKernels",
            linkerSettings: [.linkedLibrary("m", .when(platforms: [.linux]))]
        ),
        .target(
            name: "ModelIO",
            dependencies: ["QuantCore", "CHDF5"]
                + ["CPNG", "CJPEG"]
        ),
        .target(
            name: "ModelGraph",
            dependencies: ["QuantCore", "ModelIO"]
        ),
        .target(
            name: "Runtime",
            dependencies: ["QuantCore", "ModelIO", "ModelGraph", "CBLAS", "CKernels"]
        ),
        .target(
            name: "Reporting",
            dependencies: ["ModelIO"]
        ),
        .target(
            name: "Quantization",
            dependencies: ["QuantCore", "ModelIO", "ModelGraph", "Runtime", "Reporting", "CBLAS", "CAdaRound"]
        ),
        .target(
            name: "AimetSwift",
            dependencies: ["QuantCore", "ModelIO", "ModelGraph", "Runtime", "Reporting", "Quantization"]
        ),
        .executableTarget(
            name: "aimet-swift",
            dependencies: [
                "AimetSwift",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "aimet-swift-bench", dependencies: ["AimetSwift"]),
        .target(name: "AimetTestSupport", path: "Tests/Support"),
        .testTarget(name: "QuantCoreTests", dependencies: ["QuantCore"]),
        .testTarget(name: "ModelIOTests", dependencies: ["AimetTestSupport", "ModelIO", "QuantCore"]),
        .testTarget(name: "ModelGraphTests", dependencies: ["ModelGraph", "ModelIO", "QuantCore"]),
        .testTarget(name: "RuntimeTests", dependencies: ["AimetTestSupport", "Runtime", "ModelGraph", "ModelIO", "QuantCore", "CKernels"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "ModelIO"]),
        .testTarget(name: "QuantizationTests", dependencies: ["AimetTestSupport", "Quantization", "CAdaRound", "Runtime", "ModelGraph", "ModelIO", "QuantCore"]),
        .testTarget(name: "CLITests", dependencies: ["AimetTestSupport", "aimet-swift", "ModelIO"]),
    ]
)


import AimetSwift
import ArgumentParser

@main
struct AimetSwiftCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aimet-swift",
        abstract: "Post-training quantization for fp32 models, in Swift.",
        version: "0.1.0",
        subcommands: []
    )
}

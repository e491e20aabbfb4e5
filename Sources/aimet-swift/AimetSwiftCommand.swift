import AimetSwift
import ArgumentParser

@main
struct AimetSwiftCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aimet-swift",
        abstract: "Post-training quantization for fp32 models, in Swift.",
        discussion: """
        Reads safetensors (single or sharded), HDF5 (Keras 2 full models, Keras 3 .weights.h5, \
        plain datasets) and PyTorch checkpoints (.pth, zip or legacy) safely.
        """,
        version: "0.1.0",
        subcommands: [InspectCommand.self, ConvertCommand.self, EmbedCommand.self, CalibrateCommand.self, ExportCommand.self,
                      EvalCommand.self, CompareCommand.self]
    )
}

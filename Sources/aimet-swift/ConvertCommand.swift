import AimetSwift
import ArgumentParser

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert any readable checkpoint to one safetensors file (names, dtypes and values kept)."
    )

    @Argument(help: "The source checkpoint (.safetensors, .index.json, .h5/.hdf5, .pth) or model folder.")
    var input: String

    @Argument(help: "The safetensors file to write (written atomically).")
    var output: String

    func validate() throws {
        guard output.hasSuffix(".safetensors") else {
            throw ValidationError("the output must end in .safetensors, got '\(output)'")
        }
    }

    func run() throws {
        let store = try WeightStores.open(input)
        let summary = try CheckpointConversion.convertToSafetensors(store, outputPath: output)
        print("wrote \(output): \(summary.tensorCount) tensors, \(InventoryText.byteSize(summary.totalBytes)) from \(store.format.rawValue)")
    }
}

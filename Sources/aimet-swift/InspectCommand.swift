import AimetSwift
import ArgumentParser

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the tensors of a checkpoint with dtypes, shapes, sizes and format metadata."
    )

    @Argument(help: "A checkpoint file (.safetensors, .index.json, .h5/.hdf5, .pth) or a model folder.")
    var path: String

    @Flag(name: .long, help: "Print the inventory as JSON (keys sorted, tensors in file order).")
    var json = false

    @Option(name: .long, help: "Show at most this many tensors in the text listing (0 = all).")
    var limit = 0

    func run() throws {
        let store = try WeightStores.open(path)
        let inventory = CheckpointInventory(store: store)
        if json {
            print(JSONWriter(sortedKeys: true, indent: 2).string(inventory.json))
        } else {
            print(InventoryText.render(inventory, limit: limit))
        }
    }
}

// The umbrella module: `import AimetSwift` gives every public API of the toolkit.
@_exported import ModelGraph
@_exported import ModelIO
@_exported import QuantCore
@_exported import Quantization
@_exported import Reporting
@_exported import Runtime

import AimetSwift
import Foundation

/// An activation tap that attributes wall-clock time to op kinds (the time between one
/// node finishing and the next finishing is charged to the next node's op). The time spent
/// in the model's own tap (its activation quantizers), if any, is charged separately.
final class OperationProfiler: ActivationTap {
    private let inner: ActivationTap?
    private let kernels: [String: QuantizedLinear]
    private var last = DispatchTime.now().uptimeNanoseconds
    private(set) var nanoseconds: [String: UInt64] = [:]

    /// `kernels`: the integer linear layers of the executor, so that their time is charged
    /// to their kernel (`linear w8a8`) rather than to fp32 linears.
    init(inner: ActivationTap?, kernels: [String: QuantizedLinear] = [:]) {
        self.inner = inner
        self.kernels = kernels
    }

    func reset() { last = DispatchTime.now().uptimeNanoseconds }

    func nodeDidRun(_ node: Node, output: inout Tensor) {
        let now = DispatchTime.now().uptimeNanoseconds
        let kind = kernels[node.name].map { "linear \($0.kernelName)" } ?? node.op.kindName
        nanoseconds[kind, default: 0] += now - last
        if let inner {
            inner.nodeDidRun(node, output: &output)
            last = DispatchTime.now().uptimeNanoseconds
            nanoseconds["(activation quantizer tap)", default: 0] += last - now
        } else {
            last = now
        }
    }

    /// One line per op kind, largest first, as percentages of the total.
    func summary() -> String {
        let total = max(1, nanoseconds.values.reduce(0, +))
        return nanoseconds.sorted { $0.value > $1.value }.map { kind, time in
            "  \(kind): \(String(format: "%.1f", Double(time) / 1e6)) ms (\(String(format: "%.1f", Double(time) * 100 / Double(total)))%)"
        }.joined(separator: "\n")
    }
}

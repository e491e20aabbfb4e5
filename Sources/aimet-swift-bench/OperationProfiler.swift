import AimetSwift
import Foundation

/// An activation tap that attributes wall-clock time to op kinds (the time between one
/// node finishing and the next finishing is charged to the next node's op).
final class OperationProfiler: ActivationTap {
    private var last = DispatchTime.now().uptimeNanoseconds
    private(set) var nanoseconds: [String: UInt64] = [:]

    func reset() { last = DispatchTime.now().uptimeNanoseconds }

    func nodeDidRun(_ node: Node, output: inout Tensor) {
        let now = DispatchTime.now().uptimeNanoseconds
        nanoseconds[node.op.kindName, default: 0] += now - last
        last = now
    }

    /// One line per op kind, largest first, as percentages of the total.
    func summary() -> String {
        let total = max(1, nanoseconds.values.reduce(0, +))
        return nanoseconds.sorted { $0.value > $1.value }.map { kind, time in
            "  \(kind): \(String(format: "%.1f", Double(time) / 1e6)) ms (\(String(format: "%.1f", Double(time) * 100 / Double(total)))%)"
        }.joined(separator: "\n")
    }
}

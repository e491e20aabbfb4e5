// Elementary functions from the platform C library; QuantCore avoids Foundation.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#elseif canImport(ucrt)
import ucrt
#endif

extension Double {
    /// Natural logarithm.
    var logarithm: Double { log(self) }
    /// Base-10 logarithm.
    var log10: Double { commonLogarithm(self) }
    /// `e` raised to this power.
    var exponential: Double { exp(self) }
}

@inline(__always)
private func commonLogarithm(_ value: Double) -> Double { log10(value) }

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The C library's exp and log: the only math the sampler needs, without Foundation.

@inline(__always) func naturalExp(_ x: Double) -> Double { exp(x) }

@inline(__always) func naturalLog(_ x: Double) -> Double { log(x) }

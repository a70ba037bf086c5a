#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file. Tensors point into it; nothing is copied.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    public let base: UnsafeRawPointer

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw ModelLoadError(.cannotOpen, file: path, place: "open", "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw ModelLoadError(.cannotOpen, file: path, place: "stat", "cannot stat: \(String(cString: strerror(errno)))")
        }
        size = Int(st.st_size)
        guard size > 0 else {
            throw ModelLoadError(.truncated, file: path, place: "byte 0", "file is empty")
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw ModelLoadError(.cannotOpen, file: path, place: "mmap", "cannot map: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }

    /// Tells the kernel the range is not needed now (pages are dropped from this process).
    public func release(offset: Int, count: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        let end = min(size, offset + count)
        guard end > start else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }
}

/// Little-endian reader over a mapped file that reports truncation with the offset.
struct ByteReader {
    let file: MappedFile
    var offset: Int

    init(_ file: MappedFile, offset: Int = 0) {
        self.file = file
        self.offset = offset
    }

    func need(_ n: Int, _ what: String) throws {
        if n < 0 || offset + n > file.size {
            throw ModelLoadError(.truncated, file: file.path, place: "byte \(offset)",
                                 "file ends while reading \(what) (needs \(n) bytes, \(file.size - offset) left); the file is truncated or corrupt — download it again")
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: String) throws -> T {
        try need(MemoryLayout<T>.size, what)
        let v = file.base.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    mutating func readFloat(_ what: String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what))
    }

    mutating func readDouble(_ what: String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what))
    }

    mutating func readBytes(_ n: Int, _ what: String) throws -> UnsafeRawBufferPointer {
        try need(n, what)
        let b = UnsafeRawBufferPointer(start: file.base + offset, count: n)
        offset += n
        return b
    }

    mutating func readString(length n: Int, _ what: String) throws -> String {
        let b = try readBytes(n, what)
        return String(decoding: b, as: UTF8.self)
    }
}

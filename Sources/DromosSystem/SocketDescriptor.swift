import Glibc

/// Owns a socket: the one place it is closed. Non-copyable, so ownership is spelled out and a second
/// close of a number the kernel may have handed out again cannot happen.
public struct SocketDescriptor: ~Copyable {
    public let rawValue: Int32

    public init(domain: Int32, type: Int32, protocol: Int32) throws(SystemCallError) {
        rawValue = Int32(try Syscall.call("socket") { Int(socket(domain, type, `protocol`)) })
    }

    deinit {
        // Not retried on EINTR: Linux releases the descriptor even then, and a retry could close a
        // descriptor another thread has just been given.
        _ = close(rawValue)
    }
}

/// Owns a shared mapping of a socket's rings: the one place it is unmapped.
public struct RingMapping: ~Copyable {
    public let base: UnsafeMutableRawPointer
    let length: Int

    public init(_ descriptor: borrowing SocketDescriptor, length: Int) throws(SystemCallError) {
        var mapped: UnsafeMutableRawPointer? = nil
        _ = try Syscall.call("mmap") {
            // MAP_POPULATE faults the ring in now rather than on the first frames.
            let pointer = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, descriptor.rawValue, 0)
            guard let pointer, pointer != UnsafeMutableRawPointer(bitPattern: -1) else { return -1 }
            mapped = pointer
            return 0
        }
        base = mapped!
        self.length = length
    }

    deinit {
        _ = munmap(base, length)
    }
}

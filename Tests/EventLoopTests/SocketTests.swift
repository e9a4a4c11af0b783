import Buffers
import EventLoop
import Glibc
import Testing

extension EventLoopTests {
    @Suite struct Sockets {
        /// Accepts the pending connection of `listener`, polling briefly (the connect may still be in flight).
        func acceptOne(_ listener: Int32) throws -> Int32 {
            for _ in 0..<1_000 {
                if case .processed(let fd) = try Socket.accept(listener) { return fd }
                usleep(1_000)
            }
            throw IOError(errno: ETIMEDOUT, operation: "accept in test")
        }

        @Test(arguments: ["127.0.0.1", "::1", "localhost"])
        func listenConnectAcceptReadWrite(host: String) throws {
            let listener = try Socket.listenTCP(host: host, port: 0)
            defer { Socket.close(listener) }
            let port = try Socket.localPort(of: listener)
            #expect(port > 0)
            #expect(try Socket.accept(listener) == .wouldBlock)

            let (client, _) = try Socket.connectTCP(host: host, port: port)
            defer { Socket.close(client) }
            let server = try acceptOne(listener)
            defer { Socket.close(server) }
            #expect(Socket.pendingError(client) == 0)

            var buffer = ByteBuffer()
            #expect(try Socket.read(server, into: &buffer, maxBytes: 100) == .wouldBlock)
            let message = Array("hello".utf8)
            #expect(try message.withUnsafeBytes { try Socket.write(client, $0) } == .processed(5))
            var got: IOResult<Int> = .wouldBlock
            for _ in 0..<1_000 where got == .wouldBlock {
                got = try Socket.read(server, into: &buffer, maxBytes: 100)
                if got == .wouldBlock { usleep(1_000) }
            }
            #expect(got == .processed(5))
            #expect(Array(buffer.readableView) == message)

            Socket.shutdownOutput(client)
            var eof: IOResult<Int> = .wouldBlock
            for _ in 0..<1_000 where eof == .wouldBlock {
                eof = try Socket.read(server, into: &buffer, maxBytes: 100)
                if eof == .wouldBlock { usleep(1_000) }
            }
            #expect(eof == .processed(0))
        }

        @Test func writeReportsWouldBlockWhenTheSocketIsFull() throws {
            let listener = try Socket.listenTCP(host: "127.0.0.1", port: 0)
            defer { Socket.close(listener) }
            let (client, _) = try Socket.connectTCP(host: "127.0.0.1", port: try Socket.localPort(of: listener))
            defer { Socket.close(client) }
            let server = try acceptOne(listener)
            defer { Socket.close(server) }
            let chunk = [UInt8](repeating: 7, count: 64 << 10)
            var total = 0
            var blocked = false
            while total < 512 << 20 {
                let r = try chunk.withUnsafeBytes { try Socket.write(client, $0) }
                guard case .processed(let n) = r else { blocked = true; break }
                total += n
            }
            #expect(blocked)
            #expect(total > 0)
        }

        @Test func writeToAClosedPeerThrowsInsteadOfRaisingSIGPIPE() throws {
            var pair: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue), 0, &pair) == 0)
            Socket.close(pair[1])
            defer { Socket.close(pair[0]) }
            let error = #expect(throws: IOError.self) {
                _ = try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try Socket.write(pair[0], $0) }
            }
            #expect(error?.errno == EPIPE)
            #expect(error?.operation == "send")
            #expect(error?.message == String(cString: strerror(EPIPE)))
        }

        @Test func connectionReportsAWriteFailureFromTheLoopNotFromInsideSend() throws {
            let loop = try EventLoop()
            var pair: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue), 0, &pair) == 0)
            let c = try Connection(loop: loop, fd: pair[0])
            let delegate = Callbacks()
            delegate.onClose = { _, _ in loop.stop() }
            c.delegate = delegate
            Socket.close(pair[1])
            c.send(Array("to nobody".utf8))
            #expect(delegate.closes == 0)
            #expect(!c.isClosed)
            runLoop(loop, timeout: 10)
            #expect(delegate.closes == 1)
            #expect(delegate.closeError?.errno == EPIPE)
            #expect(c.isClosed)
            #expect(loop.registrationCount == 0)
        }

        @Test func listeningOnABusyPortFails() throws {
            let first = try Socket.listenTCP(host: "127.0.0.1", port: 0)
            defer { Socket.close(first) }
            let port = try Socket.localPort(of: first)
            let error = #expect(throws: IOError.self) { _ = try Socket.listenTCP(host: "127.0.0.1", port: port) }
            #expect(error?.errno == EADDRINUSE)
        }
    }
}

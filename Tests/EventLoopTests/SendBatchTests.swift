import Buffers
import Foundation
import EventLoop
import Glibc
import Testing

/// Sends made while the loop dispatches a batch of events wait for its end and go out
/// together (one io_uring call where the kernel has it): nothing is lost, reordered or held
/// back, not when a connection closes right after sending, nor when a socket takes only part.
extension EventLoopTests {
    @Suite struct SendBatch {
        /// `count` server-side connections of a listener, each with the client's descriptor.
        final class Pairs {
            var servers: [Connection] = []
            var clients: [Int32] = []
        }

        func connectPairs(_ loop: EventLoop, count: Int, delegate: Callbacks, clientBuffer: Int32? = nil /* both ends' socket buffers */) throws -> (Pairs, Listener) {
            let pairs = Pairs()
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                if let clientBuffer { setIntOption(fd, SOL_SOCKET, SO_SNDBUF, clientBuffer) }
                let c = try! Connection(loop: loop, fd: fd)
                c.delegate = delegate
                pairs.servers.append(c)
                if pairs.servers.count == count { loop.stop() }
            }
            for _ in 0..<count {
                let fd = try Socket.connectTCP(host: "127.0.0.1", port: listener.port).fd
                if let clientBuffer { setIntOption(fd, SOL_SOCKET, SO_RCVBUF, clientBuffer) }
                pairs.clients.append(fd)
            }
            runLoop(loop, timeout: 10)
            return (pairs, listener)
        }

        /// Reads from `fd` until `count` bytes or end of file (the loop is not running).
        func readAll(_ fd: Int32, count: Int, timeout: Double = 10) -> [UInt8] {
            var got = [UInt8]()
            var scratch = ByteBuffer()
            let deadline = Date.now + timeout
            while got.count < count && Date.now < deadline {
                switch try? Socket.read(fd, into: &scratch, maxBytes: 64 << 10) {
                case .processed(let n)? where n > 0:
                    got.append(contentsOf: scratch.readableView)
                    scratch.clear()
                case .processed?: return got
                default: usleep(1000)
                }
            }
            return got
        }

        @Test func sendsOfOneBatchToSeveralConnectionsArriveWhole() throws {
            let loop = try EventLoop()
            let delegate = Callbacks()
            let (pairs, listener) = try connectPairs(loop, count: 4, delegate: delegate)
            _ = listener
            // One read on the first connection sends to all four, twice each, in one callback.
            delegate.onRead = { c in
                c.inbound.clear()
                for (i, s) in pairs.servers.enumerated() {
                    s.send(Array("answer \(i) part 1;".utf8))
                    s.send(Array("answer \(i) part 2".utf8))
                }
                loop.schedule(after: 0.05) { loop.stop() }
            }
            let before = loop.ringBatches
            _ = Array("go".utf8).withUnsafeBytes { try! Socket.write(pairs.clients[0], $0) }
            runLoop(loop, timeout: 10)
            for (i, fd) in pairs.clients.enumerated() {
                let want = Array("answer \(i) part 1;answer \(i) part 2".utf8)
                #expect(readAll(fd, count: want.count) == want)
            }
            if loop.sendsThroughRing {
                #expect(loop.ringBatches.calls == before.calls + 1)
                #expect(loop.ringBatches.sends == before.sends + 4)
            }
            #expect(pairs.servers.allSatisfy { $0.outboundBytes == 0 })
            pairs.clients.forEach { _ = Glibc.close($0) }
        }

        /// close() drops output a socket could not take, but not what `send` handed over in the
        /// same batch: that was written at once before the batch existed.
        @Test func aSendFollowedByCloseInTheSameBatchIsWritten() throws {
            let loop = try EventLoop()
            let delegate = Callbacks()
            let (pairs, listener) = try connectPairs(loop, count: 2, delegate: delegate)
            _ = listener
            delegate.onRead = { c in
                c.inbound.clear()
                pairs.servers[1].send(Array("other".utf8))
                c.send(Array("goodbye".utf8))
                c.close()
                loop.schedule(after: 0.05) { loop.stop() }
            }
            _ = Array("bye".utf8).withUnsafeBytes { try! Socket.write(pairs.clients[0], $0) }
            runLoop(loop, timeout: 10)
            #expect(readAll(pairs.clients[0], count: 100) == Array("goodbye".utf8))
            #expect(readAll(pairs.clients[1], count: 5) == Array("other".utf8))
            #expect(delegate.closes == 1 && delegate.closeError == nil)
            pairs.clients.forEach { _ = Glibc.close($0) }
        }

        /// A socket that takes only part of a batch's send keeps the rest buffered, watched for
        /// writability, and delivers it in order once the peer reads; the other connection of
        /// the batch is not held up.
        @Test func aPartialSendKeepsTheRestInOrder() throws {
            let loop = try EventLoop()
            let delegate = Callbacks()
            let (pairs, listener) = try connectPairs(loop, count: 2, delegate: delegate, clientBuffer: 16 << 10)
            _ = listener
            let big = pattern(count: 3 << 20, seed: 11)
            delegate.onRead = { c in
                c.inbound.clear()
                pairs.servers[0].send(Array(big[0..<1000]))          // corks the first connection
                pairs.servers[0].send(Array(big[1000...]))           // joins its corked output
                pairs.servers[1].send(Array("small".utf8))
                loop.schedule(after: 0.05) { loop.stop() }
            }
            _ = Array("go".utf8).withUnsafeBytes { try! Socket.write(pairs.clients[1], $0) }
            runLoop(loop, timeout: 10)
            #expect(readAll(pairs.clients[1], count: 5) == Array("small".utf8))
            #expect(pairs.servers[0].outboundBytes > 0, "the peer has not read: the rest waits")
            // The peer reads on another thread while the loop flushes on write readiness.
            let fd = pairs.clients[0]
            let received = LoopConfined<[UInt8]>([])
            let reader = Thread { received.value = readAll(fd, count: big.count, timeout: 20) }
            reader.start()
            func stopWhenDrained() {
                if pairs.servers[0].outboundBytes == 0 { loop.schedule(after: 0.2) { loop.stop() } }
                else { loop.schedule(after: 0.01) { stopWhenDrained() } }
            }
            stopWhenDrained()
            runLoop(loop, timeout: 20)
            while !reader.isFinished { usleep(1000) }
            #expect(received.value.count == big.count)
            #expect(received.value == big)
            pairs.clients.forEach { _ = Glibc.close($0) }
        }
    }
}

import Buffers
import EventLoop
import Glibc
import Testing

extension EventLoopTests {
    @Suite struct Echo {
        /// An echo server that respects back-pressure: it pauses reading while its own output
        /// is over the high-water mark and resumes when it drains.
        final class EchoServer {
            let loop: EventLoop
            var listener: Listener!
            var connections: [Connection] = []
            var pauses = 0
            let delegate = Callbacks()

            init(loop: EventLoop) throws {
                self.loop = loop
                delegate.onRead = { [unowned self] c in
                    c.send(c.inbound)
                    c.inbound.clear()
                    if c.isOverHighWaterMark {
                        c.pauseReading()
                        self.pauses += 1
                    }
                }
                delegate.onDrain = { c in c.resumeReading() }
                listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { [unowned self] fd in
                    let c = try! Connection(loop: loop, fd: fd)
                    c.delegate = self.delegate
                    self.connections.append(c)
                }
            }
        }

        @Test func eightClientsFourMiBEachWithHalfClose() throws {
            let loop = try EventLoop()
            let server = try EchoServer(loop: loop)
            let clientCount = 8, size = 4 << 20
            var received = [[UInt8]](repeating: [], count: clientCount)
            var errors: [IOError?] = Array(repeating: nil, count: clientCount)
            var done = 0
            var clients: [Connection] = []
            let delegate = Callbacks()
            delegate.onConnect = { c in
                c.send(pattern(count: size, seed: UInt32(c.tag)))
                c.shutdownOutput()
            }
            delegate.onRead = { c in
                received[c.tag].append(contentsOf: c.inbound.readableView)
                c.inbound.clear()
            }
            delegate.onClose = { c, error in
                errors[c.tag] = error
                done += 1
                if done == clientCount { loop.stop() }
            }
            for i in 0..<clientCount {
                let c = try Connection.connect(loop: loop, host: "127.0.0.1", port: server.listener.port)
                c.tag = i
                c.delegate = delegate
                clients.append(c)
            }
            runLoop(loop, timeout: 60)

            #expect(done == clientCount)
            #expect(delegate.connects == clientCount)
            #expect(delegate.closes == clientCount)
            for i in 0..<clientCount {
                #expect(errors[i] == nil)
                #expect(received[i].count == size)
                #expect(received[i] == pattern(count: size, seed: UInt32(i)), "client \(i) got different bytes")
            }
            #expect(server.connections.count == clientCount)
            #expect(server.connections.allSatisfy { $0.isClosed })
            #expect(server.delegate.closes == clientCount)
            server.listener.close()
            #expect(loop.registrationCount == 0)
        }
    }
}

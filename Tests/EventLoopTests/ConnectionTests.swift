import Buffers
import EventLoop
import Glibc
import Testing

extension EventLoopTests {
    @Suite struct Connections {
        @Test func connectToAClosedPortReportsTheErrorOnce() throws {
            let loop = try EventLoop()
            let port = try closedPort()
            let delegate = Callbacks()
            delegate.onClose = { _, _ in loop.schedule(after: 0.05) { loop.stop() } }
            let c = try Connection.connect(loop: loop, host: "127.0.0.1", port: port)
            c.delegate = delegate
            c.send(Array("never sent".utf8))
            runLoop(loop, timeout: 10)
            #expect(delegate.closes == 1)
            #expect(delegate.connects == 0)
            #expect(delegate.closeError?.errno == ECONNREFUSED)
            #expect(delegate.closeError?.operation == "connect")
            #expect(c.isClosed)
            #expect(loop.registrationCount == 0)
        }

        @Test func connectByHostnameLocalhost() throws {
            let loop = try EventLoop()
            var server: Connection?
            let serverDelegate = Callbacks()
            serverDelegate.onRead = { c in
                c.send(c.inbound)
                c.inbound.clear()
            }
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                server = try! Connection(loop: loop, fd: fd)
                server!.delegate = serverDelegate
            }
            var reply: [UInt8] = []
            let client = Callbacks()
            client.onConnect = { c in c.send(Array("ping".utf8)) }
            client.onRead = { c in
                reply.append(contentsOf: c.inbound.readableView)
                c.inbound.clear()
                if reply.count >= 4 { c.close() }
            }
            client.onClose = { _, _ in loop.stop() }
            let c = try Connection.connect(loop: loop, host: "localhost", port: listener.port)
            c.delegate = client
            runLoop(loop, timeout: 10)
            #expect(client.connects == 1)
            #expect(String(decoding: reply, as: UTF8.self) == "ping")
            #expect(client.closes == 1 && client.closeError == nil)
            server?.close()
            listener.close()
        }

        @Test func dataSentBeforeTheConnectCompletesIsDelivered() throws {
            let loop = try EventLoop()
            var got: [UInt8] = []
            let serverDelegate = Callbacks()
            serverDelegate.onRead = { c in
                got.append(contentsOf: c.inbound.readableView)
                c.inbound.clear()
            }
            serverDelegate.onClose = { _, _ in loop.stop() }
            var server: Connection?
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                server = try! Connection(loop: loop, fd: fd)
                server!.delegate = serverDelegate
            }
            let c = try Connection.connect(loop: loop, host: "127.0.0.1", port: listener.port)
            c.send(Array("early bytes".utf8))
            c.closeAfterFlush()
            runLoop(loop, timeout: 10)
            #expect(String(decoding: got, as: UTF8.self) == "early bytes")
            #expect(serverDelegate.closes == 1 && serverDelegate.closeError == nil)
            #expect(c.isClosed && server?.isClosed == true)
            listener.close()
        }

        @Test func peerResetIsReportedOnce() throws {
            let loop = try EventLoop()
            let delegate = Callbacks()
            delegate.onClose = { _, _ in loop.schedule(after: 0.05) { loop.stop() } }
            var server: Connection?
            var clientFd: Int32 = -1
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                server = try! Connection(loop: loop, fd: fd)
                server!.delegate = delegate
                server!.send(Array(repeating: 1, count: 100))
                // The client leaves the server's bytes unread and closes with SO_LINGER 0: RST.
                loop.schedule(after: 0.02) {
                    var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                    setsockopt(clientFd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                    Glibc.close(clientFd)
                }
            }
            clientFd = try Socket.connectTCP(host: "127.0.0.1", port: listener.port).fd
            runLoop(loop, timeout: 10)
            #expect(delegate.closes == 1)
            #expect(delegate.closeError?.errno == ECONNRESET)
            #expect(server?.isClosed == true)
            listener.close()
            #expect(loop.registrationCount == 0)
        }

        @Test func closeInsideACallbackStopsFurtherCallbacks() throws {
            let loop = try EventLoop()
            let serverDelegate = Callbacks()
            serverDelegate.onRead = { c in
                c.close()
                c.send(Array("after close".utf8))
                c.pauseReading()
                c.resumeReading()
                c.closeAfterFlush()
                c.close()
            }
            serverDelegate.onClose = { c, _ in
                #expect(c.isClosed)
                loop.schedule(after: 0.05) { loop.stop() }
            }
            var server: Connection?
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                server = try! Connection(loop: loop, fd: fd)
                server!.delegate = serverDelegate
            }
            let client = Callbacks()
            client.onConnect = { c in
                for _ in 0..<50 { c.send(pattern(count: 64 << 10, seed: 3)) }
            }
            let c = try Connection.connect(loop: loop, host: "127.0.0.1", port: listener.port)
            c.delegate = client
            runLoop(loop, timeout: 10)
            #expect(serverDelegate.reads == 1)
            #expect(serverDelegate.closes == 1)
            #expect(serverDelegate.closeError == nil)
            #expect(server?.isClosed == true)
            c.close()
            #expect(client.closes == 1)
            listener.close()
            #expect(loop.registrationCount == 0)
        }

        @Test func endOfFileWithPendingOutputFlushesThenCloses() throws {
            let loop = try EventLoop()
            let size = 3 << 20
            // Made before the loop runs: generating 3 MiB inside the callback (slow in debug
            // builds) could let the 0.08 s check below run before the turn that reads the FIN.
            let payload = pattern(count: size, seed: 9)
            let serverDelegate = Callbacks()
            serverDelegate.onRead = { c in
                c.inbound.clear()
                c.send(payload)
            }
            var server: Connection?
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                setIntOption(fd, SOL_SOCKET, SO_SNDBUF, 32 << 10)
                server = try! Connection(loop: loop, fd: fd)
                server!.delegate = serverDelegate
            }
            var got: [UInt8] = []
            let client = Callbacks()
            client.onConnect = { c in
                c.send(Array("request".utf8))
                c.shutdownOutput()
                c.pauseReading()
                // Read nothing until the server has seen our end of file with output pending.
                loop.schedule(after: 0.1) { c.resumeReading() }
            }
            client.onRead = { c in
                got.append(contentsOf: c.inbound.readableView)
                c.inbound.clear()
            }
            client.onClose = { _, _ in loop.stop() }
            let c = try Connection.connect(loop: loop, host: "127.0.0.1", port: listener.port)
            c.delegate = client
            var pendingAtEOF = 0
            var sawEOFEarly = false
            loop.schedule(after: 0.08) {
                pendingAtEOF = server?.outboundBytes ?? 0
                sawEOFEarly = server?.receivedEOF ?? false
            }
            runLoop(loop, timeout: 20)
            #expect(pendingAtEOF > 0)
            #expect(sawEOFEarly)
            #expect(got == payload)
            #expect(serverDelegate.closes == 1 && serverDelegate.closeError == nil)
            #expect(client.closes == 1 && client.closeError == nil)
            listener.close()
        }

        /// Both directions shut (our FIN sent, the peer's received) raise EPOLLHUP even while
        /// reading is paused: the rest of the input is delivered and the connection closes,
        /// instead of the loop spinning on a level-triggered hang-up it ignores.
        @Test func hangupWhilePausedDeliversTheRestAndCloses() throws {
            let loop = try EventLoop()
            var got: [UInt8] = []
            let serverDelegate = Callbacks()
            serverDelegate.onRead = { c in
                got.append(contentsOf: c.inbound.readableView)
                c.inbound.clear()
            }
            serverDelegate.onClose = { _, _ in loop.schedule(after: 0.02) { loop.stop() } }
            var server: Connection?
            var clientFd: Int32 = -1
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                let c = try! Connection(loop: loop, fd: fd)
                c.delegate = serverDelegate
                c.pauseReading()
                c.shutdownOutput()
                server = c
                loop.schedule(after: 0.02) {
                    _ = Array("tail".utf8).withUnsafeBytes { try! Socket.write(clientFd, $0) }
                    Socket.close(clientFd)
                }
            }
            clientFd = try Socket.connectTCP(host: "127.0.0.1", port: listener.port).fd
            runLoop(loop, timeout: 10)
            #expect(String(decoding: got, as: UTF8.self) == "tail")
            #expect(serverDelegate.reads == 1)
            #expect(serverDelegate.closes == 1 && serverDelegate.closeError == nil)
            #expect(server?.isClosed == true)
            listener.close()
        }

        @Test(arguments: [false, true])
        func closingRequestedWhileConnectingHappensOnceConnected(halfClose: Bool) throws {
            let loop = try EventLoop()
            let serverDelegate = Callbacks()
            serverDelegate.onClose = { _, _ in loop.schedule(after: 0.02) { loop.stop() } }
            var server: Connection?
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                server = try! Connection(loop: loop, fd: fd)
                server!.delegate = serverDelegate
            }
            let client = Callbacks()
            let c = try Connection.connect(loop: loop, host: "127.0.0.1", port: listener.port)
            c.delegate = client
            if halfClose { c.shutdownOutput() } else { c.closeAfterFlush() }
            runLoop(loop, timeout: 10)
            #expect(client.connects == 1)
            #expect(server?.receivedEOF == true)
            #expect(serverDelegate.closes == 1 && serverDelegate.closeError == nil)
            // A half-closed client learns of the server's close through its own end of file.
            #expect(client.closes == 1 && client.closeError == nil)
            #expect(c.isClosed)
            listener.close()
        }
    }
}

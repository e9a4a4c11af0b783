import Buffers
import EventLoop
import Glibc
import Testing

/// The read path stops at a short read (no recv just to hear EAGAIN) and pauses lazily; neither
/// may delay or hide an end of file, nor deliver input while paused.
extension EventLoopTests {
    @Suite struct ReadPath {
        /// The case that made an earlier short-read shortcut look wrong: the peer's FIN comes
        /// after a short read, while our output is stuck (the peer reads nothing, so the socket
        /// never becomes writable). Level-triggered read interest must still report the FIN.
        @Test func endOfFileAfterAShortReadIsSeenWhileOutputIsStuck() throws {
            let loop = try EventLoop()
            let size = 2 << 20
            let payload = pattern(count: size, seed: 3)
            let serverDelegate = Callbacks()
            serverDelegate.onRead = { c in
                c.inbound.clear()
                c.send(payload)
            }
            var server: Connection?
            var clientFd: Int32 = -1
            var pendingAtEOF = -1
            var eofAfter = 0.0
            let start = loop.now
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                setIntOption(fd, SOL_SOCKET, SO_SNDBUF, 32 << 10)
                server = try! Connection(loop: loop, fd: fd)
                server!.delegate = serverDelegate
                loop.schedule(after: 0.01) {
                    _ = Array("ping".utf8).withUnsafeBytes { try! Socket.write(clientFd, $0) }
                }
            }
            clientFd = try Socket.connectTCP(host: "127.0.0.1", port: listener.port).fd
            setIntOption(clientFd, SOL_SOCKET, SO_RCVBUF, 32 << 10)
            // FIN only once the server has read "ping" (a short read) and is stuck on output.
            func shutWhenStuck() {
                if serverDelegate.reads == 1, let s = server, s.outboundBytes > 0 {
                    Socket.shutdownOutput(clientFd)
                    watchForEOF()
                } else {
                    loop.schedule(after: 0.005) { shutWhenStuck() }
                }
            }
            func watchForEOF() {
                if let s = server, s.receivedEOF {
                    pendingAtEOF = s.outboundBytes
                    eofAfter = loop.now - start
                    loop.stop()
                } else {
                    loop.schedule(after: 0.002) { watchForEOF() }
                }
            }
            loop.schedule(after: 0.005) { shutWhenStuck() }
            runLoop(loop, timeout: 10)
            #expect(serverDelegate.reads == 1)
            #expect(pendingAtEOF > 0, "end of file seen only once output drained")
            #expect(eofAfter < 5)
            // The client now reads everything: the server flushes, then closes.
            var got = [UInt8]()
            got.reserveCapacity(size)
            serverDelegate.onClose = { _, _ in loop.stop() }
            let drainer = Probe()
            let reg = try loop.register(fd: clientFd, interest: .readable, handler: drainer)
            var scratch = ByteBuffer()
            drainer.onEvent = { _ in
                while case .processed(let n)? = try? Socket.read(clientFd, into: &scratch, maxBytes: 64 << 10), n > 0 {
                    got.append(contentsOf: scratch.readableView)
                    scratch.clear()
                }
            }
            runLoop(loop, timeout: 20)
            loop.unregister(reg)
            while case .processed(let n)? = try? Socket.read(clientFd, into: &scratch, maxBytes: 64 << 10), n > 0 {
                got.append(contentsOf: scratch.readableView)
                scratch.clear()
            }
            #expect(got == payload)
            #expect(serverDelegate.closes == 1 && serverDelegate.closeError == nil)
            Socket.close(clientFd)
            listener.close()
            #expect(loop.registrationCount == 0)
        }

        /// Data and FIN both queued before the event: EPOLLRDHUP makes the same event read on
        /// past the short read to the end of file, so the close happens in the same loop turn.
        @Test func endOfFileQueuedBehindDataIsSeenInTheSameEvent() throws {
            let loop = try EventLoop()
            let serverDelegate = Callbacks()
            var got = ""
            var closedInTheSameTurn = false
            serverDelegate.onRead = { c in
                got += String(decoding: c.inbound.readableView, as: UTF8.self)
                c.inbound.clear()
                loop.runBeforeNextWait { closedInTheSameTurn = c.isClosed }
            }
            serverDelegate.onClose = { _, _ in loop.schedule(after: 0.01) { loop.stop() } }
            var server: Connection?
            var clientFd: Int32 = -1
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                // Registered only once the data and the FIN are in its receive queue.
                loop.schedule(after: 0.05) {
                    server = try! Connection(loop: loop, fd: fd)
                    server!.delegate = serverDelegate
                }
                loop.schedule(after: 0.01) {
                    _ = Array("hello".utf8).withUnsafeBytes { try! Socket.write(clientFd, $0) }
                    Socket.shutdownOutput(clientFd)
                }
            }
            clientFd = try Socket.connectTCP(host: "127.0.0.1", port: listener.port).fd
            runLoop(loop, timeout: 10)
            #expect(got == "hello")
            #expect(serverDelegate.reads == 1)
            #expect(server?.receivedEOF == true)
            #expect(closedInTheSameTurn)
            #expect(serverDelegate.closes == 1 && serverDelegate.closeError == nil)
            Socket.close(clientFd)
            listener.close()
        }

        /// Many small writes arrive as separate short reads, each its own event: nothing is
        /// lost or reordered and the end of file still closes the connection.
        @Test func manySmallWritesAreAllDeliveredInOrder() throws {
            let loop = try EventLoop()
            var got = [UInt8]()
            var expected = [UInt8]()
            let serverDelegate = Callbacks()
            serverDelegate.onRead = { c in
                got.append(contentsOf: c.inbound.readableView)
                c.inbound.clear()
            }
            serverDelegate.onClose = { _, _ in loop.stop() }
            var clientFd: Int32 = -1
            var server: Connection?
            var sent = 0
            func writeOne() {
                if sent == 200 {
                    Socket.shutdownOutput(clientFd)
                    return
                }
                let chunk = pattern(count: 1 + sent % 97, seed: UInt32(sent))
                expected += chunk
                _ = chunk.withUnsafeBytes { try! Socket.write(clientFd, $0) }
                sent += 1
                loop.schedule(after: sent % 10 == 0 ? 0.001 : 0) { writeOne() }
            }
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                server = try! Connection(loop: loop, fd: fd)
                server!.delegate = serverDelegate
                loop.schedule(after: 0.01) { writeOne() }
            }
            clientFd = try Socket.connectTCP(host: "127.0.0.1", port: listener.port).fd
            runLoop(loop, timeout: 10)
            #expect(got == expected)
            #expect(serverDelegate.closes == 1 && serverDelegate.closeError == nil)
            #expect(server?.isClosed == true)
            Socket.close(clientFd)
            listener.close()
        }

        /// A pause undone before any input arrives leaves read interest registered (no
        /// epoll_ctl); input arriving while paused drops it at that event, and is delivered
        /// only after the resume.
        @Test func pauseIsLazyAndNoInputIsDeliveredWhilePaused() throws {
            let loop = try EventLoop()
            let serverDelegate = Callbacks()
            var got = ""
            serverDelegate.onRead = { c in
                got += String(decoding: c.inbound.readableView, as: UTF8.self)
                c.inbound.clear()
            }
            var server: Connection?
            var clientFd: Int32 = -1
            var interestAfterPauseResume: Interest?
            var interestPausedNoInput: Interest?
            var interestPausedWithInput: Interest?
            var readsWhilePaused = -1
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                let c = try! Connection(loop: loop, fd: fd)
                c.delegate = serverDelegate
                server = c
                c.pauseReading()
                c.resumeReading()
                interestAfterPauseResume = loop.interest(of: c.registration)
                c.pauseReading()
                interestPausedNoInput = loop.interest(of: c.registration)
                loop.schedule(after: 0.01) {
                    _ = Array("queued".utf8).withUnsafeBytes { try! Socket.write(clientFd, $0) }
                }
                loop.schedule(after: 0.1) {
                    interestPausedWithInput = loop.interest(of: c.registration)
                    readsWhilePaused = serverDelegate.reads
                    c.resumeReading()
                    loop.schedule(after: 0.05) { loop.stop() }
                }
            }
            clientFd = try Socket.connectTCP(host: "127.0.0.1", port: listener.port).fd
            runLoop(loop, timeout: 10)
            #expect(interestAfterPauseResume == .readable)
            #expect(interestPausedNoInput == .readable)
            #expect(interestPausedWithInput == Interest.none)
            #expect(readsWhilePaused == 0)
            #expect(got == "queued")
            #expect(server?.isReadingPaused == false)
            server?.close()
            Socket.close(clientFd)
            listener.close()
            #expect(loop.registrationCount == 0)
        }
    }
}

import Buffers
import EventLoop
import Glibc
import Testing

extension EventLoopTests {
    @Suite struct BackPressure {
        /// A relay in the proxy's shape: bytes from `producer` go to a slow consumer through
        /// `out`. While `out` is over its high-water mark the relay pauses reading from the
        /// producer side, and resumes on `connectionDidDrain`.
        @Test func slowReaderPausesTheOtherSideAndLosesNothing() throws {
            let loop = try EventLoop()
            let size = 4 << 20, highWater = 256 << 10
            let payload = pattern(count: size, seed: 7)
            var inSide: Connection?, outSide: Connection?
            var pauses = 0, resumes = 0, maxOutbound = 0
            var consumerFd: Int32 = -1
            var received: [UInt8] = []

            let relay = Callbacks()
            relay.onRead = { c in
                guard let out = outSide else { return }
                out.send(c.inbound)
                c.inbound.clear()
                maxOutbound = max(maxOutbound, out.outboundBytes)
                if out.isOverHighWaterMark && !c.isReadingPaused {
                    c.pauseReading()
                    pauses += 1
                }
            }
            relay.onDrain = { c in
                if c === outSide, let source = inSide, source.isReadingPaused {
                    source.resumeReading()
                    resumes += 1
                }
            }
            relay.onClose = { c, _ in
                if c === inSide { outSide?.closeAfterFlush() }
            }

            let producerDelegate = Callbacks()
            producerDelegate.onConnect = { c in
                c.send(payload)
                c.closeAfterFlush()
            }
            var producer: Connection?
            let consumerListener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                setIntOption(fd, SOL_SOCKET, SO_SNDBUF, 32 << 10)
                outSide = try! Connection(loop: loop, fd: fd, highWaterMark: highWater)
                outSide!.delegate = relay
            }
            let producerListener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                inSide = try! Connection(loop: loop, fd: fd)
                inSide!.delegate = relay
            }

            // The slow consumer: a raw socket with a small receive buffer, read 16 KiB every 2 ms.
            let (fd, _) = try Socket.connectTCP(host: "127.0.0.1", port: consumerListener.port)
            consumerFd = fd
            setIntOption(fd, SOL_SOCKET, SO_RCVBUF, 32 << 10)
            var chunk = [UInt8](repeating: 0, count: 16 << 10)
            func drip() {
                let n = chunk.withUnsafeMutableBytes { (try? Socket.read(consumerFd, into: $0)) ?? .wouldBlock }
                switch n {
                case .processed(0): loop.stop(); return
                case .processed(let k): received.append(contentsOf: chunk[0..<k])
                case .wouldBlock: break
                }
                loop.schedule(after: 0.002) { drip() }
            }
            loop.schedule(after: 0.002) { drip() }
            // Start the producer once the consumer side is accepted.
            func startProducer() {
                if outSide == nil {
                    loop.schedule(after: 0.001) { startProducer() }
                    return
                }
                producer = try! Connection.connect(loop: loop, host: "127.0.0.1", port: producerListener.port)
                producer!.delegate = producerDelegate
            }
            startProducer()
            runLoop(loop, timeout: 60)

            #expect(received.count == size)
            #expect(received == payload)
            #expect(pauses > 0)
            #expect(resumes > 0)
            #expect(relay.drains > 0)
            // Bounded by the high-water mark plus what one read event can add.
            #expect(maxOutbound <= highWater + Connection.readCapPerEvent)
            #expect(producerDelegate.closes == 1 && producerDelegate.closeError == nil)
            #expect(outSide?.isClosed == true)
            Socket.close(consumerFd)
            consumerListener.close()
            producerListener.close()
            _ = producer
            #expect(loop.registrationCount == 0)
        }

        @Test func outboundBuffersWhileTheSocketIsFullAndWatchesWritableOnlyThen() throws {
            let loop = try EventLoop()
            var accepted: Int32 = -1
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                accepted = fd
                loop.stop()
            }
            let (clientFd, _) = try Socket.connectTCP(host: "127.0.0.1", port: listener.port)
            runLoop(loop, timeout: 10)
            try #require(accepted >= 0)
            setIntOption(accepted, SOL_SOCKET, SO_SNDBUF, 16 << 10)
            let c = try Connection(loop: loop, fd: accepted, highWaterMark: 64 << 10)
            #expect(loop.interest(of: c.registration) == .readable)
            c.send(pattern(count: 1 << 20, seed: 1))
            #expect(c.outboundBytes > 0)
            #expect(c.isOverHighWaterMark)
            #expect(loop.interest(of: c.registration)?.contains(.writable) == true)
            c.close()
            Socket.close(clientFd)
            listener.close()
        }
    }
}

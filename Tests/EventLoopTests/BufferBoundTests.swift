import Buffers
import EventLoop
import Glibc
import Testing

extension EventLoopTests {
    /// Memory held by a connection's buffers stays bounded by what is in flight, however many
    /// bytes pass through, and a burst's storage is given back once the buffer is empty.
    @Suite struct BufferBounds {
        /// A raw, non-blocking socketpair: `[0]` for a `Connection`, `[1]` for the test.
        func socketPair() -> [Int32] {
            var pair: [Int32] = [0, 0]
            let r = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0, &pair)
            precondition(r == 0, "socketpair: errno \(errno)")
            return pair
        }

        /// The "big_result_rss" fault: the delegate always leaves a partial message in `inbound`
        /// (it consumes whole 4,093-byte "rows"), so the buffer is never empty at a read.
        @Test func inboundStaysBoundedWhenTheConsumerAlwaysLeavesAPartialMessage() throws {
            let loop = try EventLoop()
            let pair = socketPair()
            let total = 100 << 20, row = 4_093
            let c = try Connection(loop: loop, fd: pair[0])
            var consumed = 0, maxCapacity = 0, leftPartial = 0
            let delegate = Callbacks()
            delegate.onRead = { c in
                maxCapacity = max(maxCapacity, c.inbound.capacity)
                let whole = c.inbound.readableBytes - c.inbound.readableBytes % row
                c.inbound.moveReaderIndex(forwardBy: whole)
                consumed += whole
                if c.inbound.readableBytes > 0 { leftPartial += 1 }
            }
            delegate.onClose = { _, _ in loop.stop() }
            c.delegate = delegate

            let chunk = pattern(count: 64 << 10, seed: 3)
            var sent = 0
            var writing: Registration?
            let writer = Probe { _ in
                while sent < total {
                    let n = min(chunk.count, total - sent)
                    let r = chunk.withUnsafeBytes { try? Socket.write(pair[1], UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    guard case .processed(let k)? = r else { return }
                    sent += k
                }
                Socket.shutdownOutput(pair[1])
                if let w = writing { loop.unregister(w) }
            }
            writing = try loop.register(fd: pair[1], interest: .writable, handler: writer)
            runLoop(loop, timeout: 60)
            Socket.close(pair[1])

            #expect(sent == total)
            #expect(consumed == total - total % row)
            #expect(leftPartial > 100, "the buffer must have been left non-empty for this test to mean anything")
            #expect(maxCapacity <= 2 << 20, "inbound grew to \(maxCapacity) bytes")
        }

        /// A 1 MB message arrives; the delegate waits for all of it, then consumes it. The
        /// megabyte of storage is released once the buffer is empty.
        @Test func inboundGivesBackABurstOnceEmpty() throws {
            let loop = try EventLoop()
            let pair = socketPair()
            defer { Socket.close(pair[1]) }
            let size = 1 << 20
            setIntOption(pair[1], SOL_SOCKET, SO_SNDBUF, 4 << 20)
            let c = try Connection(loop: loop, fd: pair[0])
            var peak = 0, afterConsume = -1
            let delegate = Callbacks()
            delegate.onRead = { c in
                peak = max(peak, c.inbound.capacity)
                guard c.inbound.readableBytes >= size else { return }
                c.inbound.moveReaderIndex(forwardBy: size)
                loop.runBeforeNextWait {
                    afterConsume = c.inbound.capacity
                    loop.stop()
                }
            }
            c.delegate = delegate
            let payload = pattern(count: size, seed: 9)
            var sent = 0
            var writing: Registration?
            let writer = Probe { _ in
                while sent < size {
                    let r = payload.withUnsafeBytes { try? Socket.write(pair[1], UnsafeRawBufferPointer(rebasing: $0[sent...])) }
                    guard case .processed(let k)? = r else { return }
                    sent += k
                }
                if let w = writing { loop.unregister(w) }
            }
            writing = try loop.register(fd: pair[1], interest: .writable, handler: writer)
            runLoop(loop, timeout: 30)
            #expect(peak >= size)
            #expect(afterConsume >= 0 && afterConsume <= c.retainedBufferCapacity)
            c.close()
        }

        /// 8 MB sent to a peer that is not reading piles up in the outbound buffer; once the peer
        /// has read it all, the outbound storage is released.
        @Test func outboundGivesBackItsStorageWhenFlushed() throws {
            let loop = try EventLoop()
            let pair = socketPair()
            defer { Socket.close(pair[1]) }
            let size = 8 << 20
            let c = try Connection(loop: loop, fd: pair[0])
            var capacityWhenDrained = -1
            let delegate = Callbacks()
            delegate.onDrain = { c in
                guard c.outboundBytes == 0 else { return }
                capacityWhenDrained = c.outboundCapacity
                loop.stop()
            }
            c.delegate = delegate
            c.send(pattern(count: size, seed: 5))
            let piledUp = c.outboundCapacity
            #expect(c.outboundBytes > size / 2)

            var received = 0
            var scratch = [UInt8](repeating: 0, count: 256 << 10)
            let reader = Probe { _ in
                while case .processed(let n)? = scratch.withUnsafeMutableBytes({ try? Socket.read(pair[1], into: $0) }), n > 0 {
                    received += n
                }
            }
            let reading = try loop.register(fd: pair[1], interest: .readable, handler: reader)
            runLoop(loop, timeout: 30)
            loop.unregister(reading)
            // What is still in the socket buffers was sent before the last flush.
            while case .processed(let n)? = scratch.withUnsafeMutableBytes({ try? Socket.read(pair[1], into: $0) }), n > 0 {
                received += n
            }
            #expect(received == size)
            #expect(piledUp > size / 2)
            #expect(capacityWhenDrained >= 0 && capacityWhenDrained <= c.retainedBufferCapacity)
            c.close()
        }

        /// A steady relay to a slow reader: the sender refills only below the high-water mark, as
        /// the proxy does, and the outbound storage stays within a small multiple of that mark.
        @Test func outboundStaysBoundedUnderASlowReader() throws {
            let loop = try EventLoop()
            let pair = socketPair()
            defer { Socket.close(pair[1]) }
            let total = 32 << 20, highWater = 256 << 10
            let c = try Connection(loop: loop, fd: pair[0], highWaterMark: highWater)
            let chunk = pattern(count: 100_003, seed: 11)
            var sent = 0, maxCapacity = 0
            func refill() {
                while sent < total && !c.isOverHighWaterMark {
                    let n = min(chunk.count, total - sent)
                    c.send(chunk[0..<n])
                    sent += n
                    maxCapacity = max(maxCapacity, c.outboundCapacity)
                }
            }
            let delegate = Callbacks()
            delegate.onDrain = { _ in refill() }
            c.delegate = delegate
            refill()

            var received = 0
            var scratch = [UInt8](repeating: 0, count: 48 << 10)
            let reader = Probe { _ in
                // An odd-sized read per event keeps the writer's buffer partly flushed.
                if case .processed(let n)? = scratch.withUnsafeMutableBytes({ try? Socket.read(pair[1], into: $0) }) {
                    received += n
                    if received == total { loop.stop() }
                }
            }
            let reading = try loop.register(fd: pair[1], interest: .readable, handler: reader)
            runLoop(loop, timeout: 60)
            loop.unregister(reading)
            #expect(received == total)
            #expect(maxCapacity <= 4 * (highWater + chunk.count), "outbound grew to \(maxCapacity) bytes")
            c.close()
        }
    }
}

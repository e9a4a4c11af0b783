import Buffers
import Testing

@Suite("ByteBuffer")
struct ByteBufferTests {
    @Test func appendAndConsume() {
        var b = ByteBuffer()
        b.append([1, 2, 3])
        b.append([4, 5][...])
        [UInt8]([6, 7]).withUnsafeBytes { b.append($0) }
        b.append(contentsOf: ByteBuffer([8]))
        #expect(Array(b.readableView) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(b.readableBytes == 8)
        b.moveReaderIndex(forwardBy: 3)
        #expect(Array(b.readableView) == [4, 5, 6, 7, 8])
        #expect(b.readerIndex == 3)
        #expect(b.storage == [1, 2, 3, 4, 5, 6, 7, 8])
        b.moveReaderIndex(forwardBy: 5)
        #expect(b.isEmpty)
        #expect(b.readerIndex == 0 && b.writerIndex == 0)
        #expect(b.storage.isEmpty)
    }

    @Test func recvWindowAppendsOnlyWhatWasWritten() {
        var b = ByteBuffer()
        b.append([9])
        let n = b.writeWithUnsafeMutableBytes(maxBytes: 1_000) { window in
            #expect(window.count == 1_000)
            window[0] = 1; window[1] = 2
            return 2
        }
        #expect(n == 2)
        #expect(Array(b.readableView) == [9, 1, 2])
        #expect(b.writerIndex == 3)
        #expect(b.capacity >= 1_001)
    }

    @Test func readInPlaceUsesTheFreeSpaceAsItIs() {
        var b = ByteBuffer(capacity: 8)
        b.append([1, 2, 3])
        b.moveReaderIndex(forwardBy: 1)
        let capacity = b.capacity
        let seen = b.writeIntoFreeSpace { free -> (result: Int, count: Int) in
            free[0] = 4; free[1] = 5
            return (free.count, 2)
        }
        #expect(seen == capacity - 3)                 // from the writer index to the end, no move
        #expect(Array(b.readableView) == [2, 3, 4, 5])
        #expect(b.capacity == capacity)
        b.writeIntoFreeSpace { _ in ((), 0) }        // wrote nothing: nothing appended
        #expect(Array(b.readableView) == [2, 3, 4, 5])
        let lent = b.withReadableBytesInPlace { Array($0) }
        #expect(lent == [2, 3, 4, 5])
        #expect(b.readerIndex == 1)
    }

    @Test func failedRecvAppendsNothing() {
        var b = ByteBuffer([1, 2])
        #expect(b.writeWithUnsafeMutableBytes(maxBytes: 16) { _ in -1 } == -1)
        #expect(b.writeWithUnsafeMutableBytes(maxBytes: 16) { _ in 0 } == 0)
        #expect(Array(b.readableView) == [1, 2])
    }

    @Test func steadyStateRecvReusesStorage() {
        var b = ByteBuffer(capacity: 4_096)
        let capacity = b.capacity
        for round in 0..<100 {
            let n = b.writeWithUnsafeMutableBytes(maxBytes: 4_096) { window in
                for i in 0..<100 { window[i] = UInt8(truncatingIfNeeded: round + i) }
                return 100
            }
            #expect(n == 100)
            #expect(b.readableView.first == UInt8(truncatingIfNeeded: round))
            b.moveReaderIndex(forwardBy: 100)
        }
        #expect(b.capacity == capacity)
    }

    @Test func staleTailBytesNeverLeakIntoReadableBytes() {
        var b = ByteBuffer()
        b.append(Array(repeating: 0xAA, count: 64))
        b.clear()
        b.append([1])
        #expect(Array(b.readableView) == [1])
        #expect(b.storage == [1])
        #expect(b == ByteBuffer([1]))
    }

    @Test func compactionKeepsUnreadBytes() {
        var b = ByteBuffer(Array(0..<100))
        b.moveReaderIndex(forwardBy: 60)
        b.compactIfWorthIt()
        #expect(b.readerIndex == 0)
        #expect(b.writerIndex == 40)
        #expect(Array(b.readableView) == Array(60..<100))
        b.moveReaderIndex(forwardBy: 10)
        b.compactIfWorthIt()
        #expect(b.readerIndex == 10, "not worth it: 10 of 40 bytes are dead")
        #expect(Array(b.readableView) == Array(70..<100))
    }

    @Test func recvCompactsFirst() {
        var b = ByteBuffer(Array(0..<10))
        b.moveReaderIndex(forwardBy: 8)
        _ = b.writeWithUnsafeMutableBytes(maxBytes: 4) { w in w[0] = 10; return 1 }
        #expect(b.readerIndex == 0)
        #expect(Array(b.readableView) == [8, 9, 10])
    }

    @Test func bigEndianWriters() {
        var b = ByteBuffer()
        b.writeInteger(Int32(0x0102_0304))
        b.writeInteger(Int16(-2))
        b.writeInteger(UInt8(7))
        b.writeInteger(Int64(1))
        b.writeByte(0x51)
        b.writeCString("hé")
        #expect(Array(b.readableView) == [1, 2, 3, 4, 0xff, 0xfe, 7, 0, 0, 0, 0, 0, 0, 0, 1, 0x51, 0x68, 0xc3, 0xa9, 0])
        b.setInt32(-1, at: 0)
        #expect(Array(b.readableView.prefix(4)) == [0xff, 0xff, 0xff, 0xff])
    }

    @Test func withReadableBytesSeesOnlyUnreadBytes() {
        var b = ByteBuffer([1, 2, 3, 4])
        b.moveReaderIndex(forwardBy: 1)
        b.writeByte(5)
        #expect(b.withReadableBytes { Array($0) } == [2, 3, 4, 5])
    }

    @Test func copiesAreIndependent() {
        var a = ByteBuffer(capacity: 64)
        a.append([1, 2, 3])
        let snapshot = a
        let view = a.readableView
        a.writeByte(4)
        a.moveReaderIndex(forwardBy: 1)
        #expect(Array(snapshot.readableView) == [1, 2, 3])
        #expect(Array(view) == [1, 2, 3])
        #expect(Array(a.readableView) == [2, 3, 4])
    }

    @Test func equalityIgnoresConsumedBytesAndCapacity() {
        var a = ByteBuffer(capacity: 1_000)
        a.append([0, 1, 2])
        a.moveReaderIndex(forwardBy: 1)
        #expect(a == ByteBuffer([1, 2]))
        #expect(a != ByteBuffer([1, 2, 3]))
    }

    @Test func growthPreservesContent() {
        var b = ByteBuffer()
        var expected: [UInt8] = []
        for i in 0..<5_000 {
            let byte = UInt8(truncatingIfNeeded: i * 7)
            if i % 3 == 0 { b.writeByte(byte) } else { b.append([byte]) }
            expected.append(byte)
        }
        #expect(Array(b.readableView) == expected)
        #expect(b.capacity >= 5_000 && b.capacity < 20_000)
    }

    /// The "big_result_rss" shape: a stream read in chunks whose consumer always leaves a partial
    /// message behind, so the buffer is never empty. Without reclaiming the consumed prefix the
    /// storage grows with every byte that passes.
    @Test func aStreamThatNeverEmptiesTheBufferKeepsItsStorageBounded() {
        var b = ByteBuffer()
        let total = 100 << 20
        let chunk = (0..<65_536).map { UInt8(truncatingIfNeeded: $0) }
        var written = 0, consumed = 0, maxCapacity = 0, chunkIndex = 0
        let frameSizes = [4_093, 17, 70_001, 999, 131_071]
        var frameIndex = 0
        while written < total {
            let n = [65_536, 1_000, 32_767, 65_536, 513][chunkIndex % 5]
            chunkIndex += 1
            b.reserveWritable(n)
            b.append(chunk[0..<n])
            written += n
            // Consume whole "frames" of odd sizes; the last partial one stays behind.
            while b.readableBytes >= frameSizes[frameIndex % frameSizes.count] {
                let size = frameSizes[frameIndex % frameSizes.count]
                b.moveReaderIndex(forwardBy: size)
                consumed += size
                frameIndex += 1
            }
            maxCapacity = max(maxCapacity, b.capacity)
        }
        #expect(consumed + b.readableBytes == written)
        #expect(b.readableBytes > 0, "the stream must end on a partial frame for this test to mean anything")
        #expect(maxCapacity < 1 << 20, "storage grew to \(maxCapacity) bytes")
    }

    @Test func streamedBytesSurviveReclaiming() {
        var b = ByteBuffer()
        var next: UInt8 = 0, expected: UInt8 = 0, mismatches = 0
        for round in 0..<500 {
            let n = 1 + (round * 7_919) % 5_000
            b.reserveWritable(n)
            for _ in 0..<n { b.writeByte(next); next &+= 1 }
            let take = b.readableBytes - (round % 3 == 0 ? 0 : min(b.readableBytes, 1 + round % 4_001))
            for byte in b.readableView.prefix(take) {
                if byte != expected { mismatches += 1 }
                expected &+= 1
            }
            b.moveReaderIndex(forwardBy: take)
        }
        #expect(mismatches == 0)
        #expect(Array(b.readableView) == (0..<b.readableBytes).map { expected &+ UInt8(truncatingIfNeeded: $0) })
    }

    /// Encoders remember `writerIndex` and patch a length word after writing the body.
    @Test func writersNeverMoveBytesEvenWhenTheyGrow() {
        var b = ByteBuffer(Array(repeating: 1, count: 100))
        b.moveReaderIndex(forwardBy: 90)
        let start = b.writerIndex
        b.writeInteger(Int32(0))
        b.append(Array(repeating: 2, count: 10_000))
        b.setInt32(10_004, at: start)
        #expect(b.readerIndex == 90)
        #expect(Array(b.readableView.prefix(14)) == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0x27, 0x14])
    }

    @Test func reserveWritableGrowsRatherThanMoveAMostlyUnreadBuffer() {
        var b = ByteBuffer(Array(0..<100))
        b.moveReaderIndex(forwardBy: 10)
        b.reserveWritable(20)
        #expect(b.capacity >= 200, "moving 90 bytes to reclaim 10 is not paid for by what was consumed")
        #expect(b.readerIndex == 0, "growth copies only the unread bytes")
        #expect(Array(b.readableView) == Array(10..<100))
        b.moveReaderIndex(forwardBy: 80)
        let capacity = b.capacity
        b.reserveWritable(capacity - 15)
        #expect(b.readerIndex == 0)
        #expect(b.capacity == capacity, "80 consumed bytes pay for moving 10")
        #expect(Array(b.readableView) == Array(90..<100))
    }

    @Test func shrinkGivesBackTheStorageOfABurst() {
        var b = ByteBuffer()
        b.reserveWritable(1 << 20)
        b.append(Array(repeating: 3, count: 1 << 20))
        var shrank = b.shrink(ifCapacityAbove: 64 << 10)
        #expect(!shrank, "a megabyte is still unread")
        b.moveReaderIndex(forwardBy: (1 << 20) - 100)
        shrank = b.shrink(ifCapacityAbove: 64 << 10)
        #expect(shrank)
        #expect(b.capacity == 100)
        #expect(Array(b.readableView) == Array(repeating: 3, count: 100))
        b.moveReaderIndex(forwardBy: 100)
        shrank = b.shrink(ifCapacityAbove: 64 << 10)
        #expect(!shrank, "already small")
        b.append([1, 2])
        #expect(Array(b.readableView) == [1, 2])

        var empty = ByteBuffer(capacity: 1 << 20)
        shrank = empty.shrink(ifCapacityAbove: 0)
        #expect(shrank)
        #expect(empty.capacity == 0)
    }

    @Test func peekByteReadsUnreadBytesOnly() {
        var b = ByteBuffer()
        b.append([1, 2, 3, 4])
        b.moveReaderIndex(forwardBy: 1)
        #expect(b.peekByte(at: 0) == 2)
        #expect(b.peekByte(at: 2) == 4)
        #expect(b.peekByte(at: 3) == nil)
        #expect(b.peekByte(at: -1) == nil)
    }
}

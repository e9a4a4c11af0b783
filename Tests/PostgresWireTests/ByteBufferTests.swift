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
}

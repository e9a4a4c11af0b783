import PostgresWire

/// Frame-splitting throughput on a realistic server → client stream: one result of
/// RowDescription + 10,000 DataRows of ~100 bytes + CommandComplete + ReadyForQuery,
/// repeated. Figures: headers only over a contiguous buffer (`Framing.peekHeader`, what the
/// proxy does when it forwards), the same through `FrameDecoder` fed 64 KB reads, full typed
/// decoding (`BackendMessage.decode`) of every frame, and encoding the same messages back.
func runFramingBench() {
    let result = framingBenchResult()
    let repeats = 8
    var stream: [UInt8] = []
    stream.reserveCapacity(result.bytes.count * repeats)
    for _ in 0..<repeats { stream += result.bytes }
    let messagesPerStream = result.messages * repeats
    print("framing: stream of \(repeats) results × \(result.messages) messages, "
          + "\(stream.count) bytes (\(stream.count / messagesPerStream) bytes/message avg)")

    measure("peekHeader, contiguous", bytes: stream.count, messages: messagesPerStream) {
        var count = 0, sum = 0
        stream.withUnsafeBytes { raw in
            var at = 0
            while let h = try! Framing.peekHeader(UnsafeRawBufferPointer(rebasing: raw[at...]),
                                                  maxBodyLength: 1 << 30),
                  raw.count - at >= h.frameLength {
                sum &+= Int(h.id)
                at += h.frameLength
                count += 1
            }
        }
        return (count, sum)
    }

    measure("FrameDecoder.next, 64 KB reads", bytes: stream.count, messages: messagesPerStream) {
        var decoder = FrameDecoder(initialCapacity: 128 * 1024)
        var count = 0, sum = 0
        feedInReads(stream, to: &decoder) { decoder in
            while let frame = try! decoder.next() {
                sum &+= Int(frame.id) &+ frame.body.count
                count += 1
            }
        }
        return (count, sum)
    }

    measure("typed BackendMessage decode, 64 KB reads", bytes: stream.count, messages: messagesPerStream) {
        var decoder = FrameDecoder(initialCapacity: 128 * 1024)
        var count = 0, sum = 0
        feedInReads(stream, to: &decoder) { decoder in
            while let message = try! decoder.nextBackendMessage() {
                if case .dataRow(let columns) = message { sum &+= columns.count }
                count += 1
            }
        }
        return (count, sum)
    }

    let decoded = decodeAll(stream)
    measure("encode BackendMessage into ByteBuffer", bytes: stream.count, messages: messagesPerStream) {
        var out = ByteBuffer(capacity: 256 * 1024)
        var written = 0
        for message in decoded {
            message.encode(into: &out)
            if out.readableBytes >= 64 * 1024 {
                written &+= out.readableBytes
                out.clear()
            }
        }
        return (decoded.count, written &+ out.readableBytes)
    }
}

private func decodeAll(_ stream: [UInt8]) -> [BackendMessage] {
    var decoder = FrameDecoder()
    decoder.feed(stream)
    var messages: [BackendMessage] = []
    while let message = try! decoder.nextBackendMessage() { messages.append(message) }
    return messages
}

/// Copies `stream` into the decoder the way a `recv` loop would, 64 KB at a time, and lets
/// `drain` pull frames after each read.
private func feedInReads(_ stream: [UInt8], to decoder: inout FrameDecoder,
                         _ drain: (inout FrameDecoder) -> Void) {
    let read = 64 * 1024
    stream.withUnsafeBytes { source in
        var at = 0
        while at < source.count {
            let n = min(read, source.count - at)
            _ = decoder.feed(maxBytes: read) { window in
                window.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[at..<(at + n)]))
                return n
            }
            at += n
            drain(&decoder)
        }
    }
}

/// Runs `body` (one pass over the stream) until at least a second has gone by and prints
/// the best pass's throughput.
private func measure(_ name: String, bytes: Int, messages: Int, _ body: () -> (count: Int, checksum: Int)) {
    let clock = ContinuousClock()
    var best = Duration.seconds(1_000)
    var passes = 0
    var checksum = 0
    let start = clock.now
    while passes < 3 || clock.now - start < .seconds(1) {
        let t0 = clock.now
        let (count, sum) = body()
        let elapsed = clock.now - t0
        precondition(count == messages, "\(name): split \(count) messages, expected \(messages)")
        checksum &+= sum
        best = min(best, elapsed)
        passes += 1
    }
    let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) / 1e18
    let mbPerSecond = Double(bytes) / seconds / 1_000_000
    let messagesPerSecond = Double(messages) / seconds
    print("  \(name + String(repeating: " ", count: max(0, 42 - name.count))) "
          + "\(formatted(mbPerSecond, 0)) MB/s  \(formatted(messagesPerSecond / 1e6, 2)) M msg/s  "
          + "(best of \(passes), checksum \(checksum & 0xffff))")
}

/// Fixed-point text without Foundation (and without libm's `round`).
private func formatted(_ value: Double, _ decimals: Int) -> String {
    var scale = 1
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int(value * Double(scale) + 0.5)
    guard decimals > 0 else { return String(scaled) }
    let fraction = String(scaled % scale)
    return "\(scaled / scale)." + String(repeating: "0", count: decimals - fraction.count) + fraction
}

/// One encoded result of an orders page: 5 columns, 10,000 rows of about 100 bytes each.
private func framingBenchResult() -> (bytes: [UInt8], messages: Int) {
    var out = ByteBuffer(capacity: 1_200_000)
    let columns: [(String, Int32, Int16)] = [
        ("id", 20, 8), ("storeIdentifier", 25, -1), ("status", 25, -1),
        ("assignedAgentId", 23, 4), ("createdAt", 1184, 8),
    ]
    BackendMessage.rowDescription(columns.enumerated().map { i, c in
        .init(name: c.0, tableOID: 16_384, columnAttribute: Int16(i + 1), dataTypeOID: c.1,
              dataTypeSize: c.2, typeModifier: -1, format: 0)
    }).encode(into: &out)
    let rows = 10_000
    for i in 0..<rows {
        BackendMessage.dataRow([
            Array(String(100_000 + i).utf8),
            Array("store-\(i % 37)-eu-west-warehouse-\(i % 5)".utf8),
            Array((i % 3 == 0 ? "shipped" : "pending_payment").utf8),
            i % 4 == 0 ? nil : Array(String(i % 50).utf8),
            Array("2026-11-24 21:\(10 + i % 50):00.\(100_000 + i)+00".utf8),
        ]).encode(into: &out)
    }
    BackendMessage.commandComplete(tag: "SELECT \(rows)").encode(into: &out)
    BackendMessage.readyForQuery(.idle).encode(into: &out)
    return (Array(out.readableView), rows + 3)
}

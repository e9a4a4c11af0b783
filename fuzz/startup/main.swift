// libFuzzer harness: the first bytes of a client connection, read the way pgstash reads
// them: FrameDecoder in `.startup` phase hands out untyped packets (SSLRequest,
// GSSENCRequest, CancelRequest, StartupMessage) until a StartupMessage moves it to typed
// frames, which are then decoded as frontend messages. StartupPacket.decode also sees the
// whole input as one packet. A decoder must throw WireDecodingError, never trap; a decoded
// packet must survive encode → decode.
//
// Input: byte 0 picks the read size (1...256 bytes per feed); the rest is the stream.
import PostgresWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStartup(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let chunk = Int(input[0]) + 1
    let stream = input[1...]

    if let packet = decodeChecked(stream) { roundTrip(packet) }

    var decoder = FrameDecoder(phase: .startup, checksFrontendHeaders: true, initialCapacity: 64)
    var fed = stream.startIndex
    while true {
        do {
            if decoder.phase == .startup {
                while decoder.phase == .startup, let packet = try decoder.nextStartupPacket() {
                    roundTrip(packet)
                }
            }
            if decoder.phase == .messages {
                while let (id, body) = try decoder.next() {
                    _ = try? FrontendMessage.decode(id: id, body: body)
                }
            }
        } catch let error as WireDecodingError {
            _ = error.description
            return 0
        } catch {
            fatalError("FrameDecoder threw a non-wire error: \(error)")
        }
        guard fed < stream.endIndex else { break }
        let end = min(fed + chunk, stream.endIndex)
        decoder.feed(stream[fed..<end])
        fed = end
    }
    return 0
}

private func decodeChecked(_ bytes: ArraySlice<UInt8>) -> StartupPacket? {
    do {
        return try StartupPacket.decode(bytes)
    } catch let error as WireDecodingError {
        _ = error.description
        return nil
    } catch {
        fatalError("StartupPacket.decode threw a non-wire error: \(error)")
    }
}

private func roundTrip(_ packet: StartupPacket) {
    var out = ByteBuffer()
    packet.encode(into: &out)
    let again = try? StartupPacket.decode(out.readableView)
    precondition(again == packet, "encode → decode changed \(packet) into \(String(describing: again))")
}

// libFuzzer harness: a server's byte stream, split by FrameDecoder and decoded with
// BackendMessage.decode (pgstash reads every message an upstream sends, and the auth and
// error parsers sit on that path). A decoder must throw WireDecodingError, never trap.
//
// Input: byte 0 picks the read size (1...256 bytes per feed); the rest is the stream.
import PostgresWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBackend(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let chunk = Int(input[0]) + 1
    let stream = input[1...]

    var decoder = FrameDecoder(phase: .messages, maxBodyLength: 1 << 20, initialCapacity: 64)
    var fed = stream.startIndex
    while true {
        do {
            while let (id, body) = try decoder.next() {
                check(id: id, body: body)
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

private func check(id: UInt8, body: ArraySlice<UInt8>) {
    let message: BackendMessage
    do {
        message = try BackendMessage.decode(id: id, body: body)
    } catch let error as WireDecodingError {
        _ = error.description
        return
    } catch {
        fatalError("BackendMessage.decode threw a non-wire error: \(error)")
    }
    let again = try? BackendMessage.decode(id: id, body: message.encoded.dropFirst(5))
    precondition(again == message, "encode → decode changed \(message) into \(String(describing: again))")
}

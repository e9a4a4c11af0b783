// libFuzzer harness: a client's byte stream after the StartupMessage, split into frames the
// way pgstash reads it (FrameDecoder with PostgreSQL's header checks), every frame decoded
// with FrontendMessage.decode and, for 'p', each typed view (PasswordMessage,
// SASLInitialResponse). A decoder must throw WireDecodingError, never trap. What decodes
// must survive encode → decode unchanged.
//
// Input: byte 0 picks the read size (1...256 bytes per feed) so frames are cut at every
// place a recv could cut them; the rest is the stream.
import PostgresWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrontend(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let chunk = Int(input[0]) + 1
    let stream = input[1...]

    var decoder = FrameDecoder(phase: .messages, maxBodyLength: 1 << 20, checksFrontendHeaders: true,
                               initialCapacity: 64)
    var fed = stream.startIndex
    while true {
        do {
            while let (id, body) = try decoder.next() {
                check(id: id, body: body)
            }
        } catch let error as WireDecodingError {
            _ = error.description
            return 0   // a framing error ends the connection
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
    let message: FrontendMessage
    do {
        message = try FrontendMessage.decode(id: id, body: body)
    } catch let error as WireDecodingError {
        _ = error.description
        return
    } catch {
        fatalError("FrontendMessage.decode threw a non-wire error: \(error)")
    }
    let again = try? FrontendMessage.decode(id: id, body: message.encoded.dropFirst(5))
    precondition(again == message, "encode → decode changed \(message) into \(String(describing: again))")

    guard case .passwordData(let bytes) = message else { return }
    if let password = try? PasswordMessage(passwordData: bytes) {
        precondition((try? PasswordMessage(passwordData: password.encoded.dropFirst(5))) == password)
    }
    if let initial = try? SASLInitialResponse(passwordData: bytes) {
        precondition((try? SASLInitialResponse(passwordData: initial.encoded.dropFirst(5))) == initial)
    }
    precondition(SASLResponse(passwordData: bytes).encoded.dropFirst(5).elementsEqual(bytes))
}

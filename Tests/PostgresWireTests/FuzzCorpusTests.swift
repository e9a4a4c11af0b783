import Foundation
import PostgresWire
import Testing

/// The fuzzers' seed corpus and the inputs of every crash they found (fuzz/corpus/, see
/// docs/fuzzing.md) replayed the way the harnesses read them, so `make test` catches a
/// regression without the fuzzers: byte 0 picks the read size, the rest is the stream. A
/// decoder that traps takes the test process down; one that decodes must round-trip.
@Suite("Fuzz corpus replay")
struct FuzzCorpusTests {
    @Test func frontendCorpusDecodesOrThrows() throws {
        let inputs = try corpus("frontend")
        #expect(!inputs.isEmpty)
        for input in inputs {
            replay(input, phase: .messages) { id, body in
                if let m = try? FrontendMessage.decode(id: id, body: body) {
                    #expect((try? FrontendMessage.decode(id: id, body: m.encoded.dropFirst(5))) == m)
                }
            }
        }
    }

    @Test func backendCorpusDecodesOrThrows() throws {
        let inputs = try corpus("backend")
        #expect(!inputs.isEmpty)
        for input in inputs {
            replay(input, phase: .messages, frontend: false) { id, body in
                if let m = try? BackendMessage.decode(id: id, body: body) {
                    #expect((try? BackendMessage.decode(id: id, body: m.encoded.dropFirst(5))) == m)
                }
            }
        }
    }

    @Test func startupCorpusDecodesOrThrows() throws {
        let inputs = try corpus("startup")
        #expect(!inputs.isEmpty)
        for input in inputs {
            _ = try? StartupPacket.decode(input.dropFirst())
            replay(input, phase: .startup) { id, body in _ = try? FrontendMessage.decode(id: id, body: body) }
        }
    }

    /// Feeds `input[1...]` in reads of `input[0] + 1` bytes, taking startup packets and then
    /// frames out after each read, as the harnesses and the proxy do.
    private func replay(_ input: [UInt8], phase: FrameDecoder.Phase, frontend: Bool = true,
                        _ frame: (UInt8, ArraySlice<UInt8>) -> Void) {
        guard let first = input.first else { return }
        let chunk = Int(first) + 1
        var decoder = FrameDecoder(phase: phase, maxBodyLength: 1 << 20, checksFrontendHeaders: frontend)
        var at = 1
        while true {
            do {
                while decoder.phase == .startup, try decoder.nextStartupPacket() != nil {}
                while decoder.phase == .messages, let (id, body) = try decoder.next() { frame(id, body) }
            } catch {
                #expect(error is WireDecodingError)
                return
            }
            guard at < input.count else { return }
            decoder.feed(input[at..<min(at + chunk, input.count)])
            at += chunk
        }
    }
}

/// The files of fuzz/corpus/<harness>, found from this file's path.
func corpus(_ harness: String) throws -> [[UInt8]] {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    let dir = parts.joined(separator: "/") + "/fuzz/corpus/" + harness
    return try FileManager.default.contentsOfDirectory(atPath: dir).sorted().map { name in
        Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)))
    }
}

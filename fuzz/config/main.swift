// libFuzzer harness: the configuration loader on untrusted text. ConfigLoader.parse runs the
// TOML reader and the mapping and validation of every section; AuthFile.parse reads the same
// text as a userlist.txt; each line is also tried as an --upstream URL and as a `-c` override.
// Bad input must become ConfigErrors naming a line, never a trap.
//
// The base directory does not exist, so a relative auth_file is never read; an absolute one is
// (the fuzzer could name a device: a hang there is not a parser bug).
import ProxyConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let config = try ConfigLoader.parse(text: text, fileName: "fuzz.conf", baseDirectory: "/nonexistent-fuzz-dir")
        _ = "\(config)"
    } catch {
        for e in error.errors { _ = e.description }
    }
    _ = try? AuthFile.parse(text: text, fileName: "fuzz.users")
    _ = AuthFile.isValidSCRAMVerifier(text)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: true).prefix(8).map(String.init)
    for line in lines {
        _ = UpstreamURL.parse(line)
    }
    if !lines.isEmpty {
        _ = try? ConfigLoader.parse(text: "", fileName: "fuzz.conf", baseDirectory: "/nonexistent-fuzz-dir",
                                    overrides: lines)
    }
    return 0
}

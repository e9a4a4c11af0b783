import Foundation
import Testing
@testable import ProxyConfig

/// Loads `text` as `test.conf` from `directory`; fails the test on errors.
func load(
    _ text: String, directory: String = "", overrides: [String] = [], listen: String? = nil
) throws -> ProxyConfiguration {
    try ConfigLoader.parse(
        text: text, fileName: "test.conf", baseDirectory: directory, overrides: overrides, listen: listen)
}

/// The errors of loading `text` as `test.conf` (empty when it loads).
func errors(
    _ text: String, directory: String = "", overrides: [String] = [], listen: String? = nil
) -> [ConfigError] {
    do {
        _ = try load(text, directory: directory, overrides: overrides, listen: listen)
        return []
    } catch let failure as ConfigErrors {
        return failure.errors
    } catch {
        Issue.record("unexpected error type: \(error)")
        return []
    }
}

/// The smallest valid file: one database, no client authentication.
let minimal = """
    [auth]
    type = "trust"
    [databases.app]
    """

/// A fresh folder holding `files` (name → contents), removed by the caller.
func temporaryDirectory(_ files: [String: String]) throws -> String {
    let path = NSTemporaryDirectory() + "pgstash-config-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    for (name, text) in files {
        try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
    }
    return path
}

func removeDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

import Testing
@testable import ProxyConfig

/// `[log]` and `[admin] query_digests`.
@Suite struct OperationsSettingsTests {
    @Test func defaults() throws {
        let c = try load(minimal)
        #expect(c.log == LogConfig())
        #expect(c.log.format == .text && c.log.level == .info && c.log.acquireWaitThreshold == 1)
        #expect(c.admin.queryDigests == 0)
    }

    @Test func readsTheSection() throws {
        let c = try load(minimal + "\n[log]\nformat = \"json\"\nlevel = \"warning\"\nacquire_wait_threshold = \"250ms\"\n[admin]\nquery_digests = 5000")
        #expect(c.log.format == .json && c.log.level == .warning && c.log.acquireWaitThreshold == 0.25)
        #expect(c.admin.queryDigests == 5000)
        let o = try load(minimal, overrides: ["log.format=logfmt", "log.level=debug", "admin.query_digests=50"])
        #expect(o.log.format == .logfmt && o.log.level == .debug && o.admin.queryDigests == 50)
    }

    @Test func refusesWhatItCannotUse() {
        let format = errors(minimal + "\n[log]\nformat = \"jsn\"")
        #expect(format.count == 1 && format[0].line == 5 && format[0].message.contains("did you mean \"json\"?"), "\(format)")
        let level = errors(minimal + "\n[log]\nlevel = \"verbose\"")
        #expect(level.count == 1 && level[0].message.contains("\"debug\" or \"info\" or \"warning\" or \"error\""), "\(level)")
        #expect(errors(minimal + "\n[admin]\nquery_digests = -1").count == 1)
        #expect(errors(minimal + "\n[log]\nfromat = \"json\"").first?.message.contains("did you mean format?") == true)
    }

    @Test func levelsAreOrdered() {
        #expect(LogLevel.debug < .info && LogLevel.info < .warning && LogLevel.warning < .error)
    }
}

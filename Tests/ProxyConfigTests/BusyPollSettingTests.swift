import Testing
@testable import ProxyConfig

/// `[listen] busy_poll`: off by default, a duration up to 1 ms.
@Suite struct BusyPollSettingTests {
    @Test func offByDefault() throws {
        #expect(try load(minimal).listen.busyPoll == 0)
    }

    @Test func readsADuration() throws {
        #expect(abs(try load(minimal + "\n[listen]\nbusy_poll = \"100us\"").listen.busyPoll - 0.0001) < 1e-12)
        #expect(abs(try load(minimal, overrides: ["listen.busy_poll=50us"]).listen.busyPoll - 0.00005) < 1e-12)
        #expect(try load(minimal, overrides: ["listen.busy_poll=50us"]).listen.busyPollNanoseconds == 50_000)
        #expect(try load(minimal, overrides: ["listen.busy_poll=0.001"]).listen.busyPoll == 0.001)
    }

    @Test func refusesMoreThanOneMillisecond() {
        let found = errors(minimal + "\n[listen]\nbusy_poll = \"5ms\"")
        #expect(found.count == 1 && found[0].line == 5 && found[0].message.contains("listen.busy_poll: at most \"1ms\""), "\(found)")
        #expect(errors(minimal + "\n[listen]\nbusy_poll = \"-1us\"").count == 1)
        #expect(errors(minimal + "\n[listen]\nbusy_poll = \"soon\"").count == 1)
    }
}

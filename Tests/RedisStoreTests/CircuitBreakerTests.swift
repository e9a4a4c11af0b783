import RedisStore
import Testing

/// The breaker alone: a trace of commands and outcomes with time passed in.
@Suite struct CircuitBreakerTests {
    func wanted(_ b: inout CircuitBreaker, _ now: Double) -> Bool { b.commandWanted(now: now) }

    @Test func opensAfterThresholdFailuresAndProbesAfterCooldown() {
        var b = CircuitBreaker(threshold: 3, cooldown: 1)
        #expect(wanted(&b, 0))
        b.failed(now: 0)
        b.failed(now: 0.1)
        #expect(b.state == .closed(failures: 2))
        #expect(wanted(&b, 0.2))
        b.failed(now: 0.2)
        #expect(b.state == .open(until: 1.2))
        #expect(b.openings == 1)
        #expect(!wanted(&b, 1.19))
        #expect(b.isOpen(now: 1.19))
        #expect(wanted(&b, 1.2))          // the probe
        #expect(b.state == .probing)
        #expect(!wanted(&b, 1.3))         // others wait for the probe
        b.failed(now: 1.4)
        #expect(b.state == .open(until: 2.4))
        #expect(b.openings == 2)
        #expect(wanted(&b, 2.5))
        b.succeeded()
        #expect(b.state == .closed(failures: 0))
        #expect(!b.isOpen(now: 2.5))
    }

    @Test func successResetsTheCount() {
        var b = CircuitBreaker(threshold: 2, cooldown: 1)
        b.failed(now: 0)
        b.succeeded()
        b.failed(now: 0)
        #expect(b.state == .closed(failures: 1))
    }

    @Test func failuresWhileOpenDoNotExtendIt() {
        var b = CircuitBreaker(threshold: 1, cooldown: 1)
        b.failed(now: 0)
        b.failed(now: 0.5)
        #expect(b.state == .open(until: 1))
    }
}

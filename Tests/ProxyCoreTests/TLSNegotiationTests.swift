import ProxyConfig
import Testing
@testable import ProxyCore

/// `[tls] client_mode` and per-database `sslmode` decisions, as traces of what arrived.
@Suite struct ClientTLSPolicyTests {
    @Test(arguments: [
        (SSLMode.disable, true, ClientTLSPolicy.Action.refuseTLS),
        (.allow, true, .acceptTLS), (.prefer, true, .acceptTLS), (.require, true, .acceptTLS),
        (.verifyCA, true, .acceptTLS), (.verifyFull, true, .acceptTLS),
        (.prefer, false, .refuseTLS), (.allow, false, .refuseTLS),
    ])
    func sslRequestAnswer(_ mode: SSLMode, _ certificate: Bool, _ expected: ClientTLSPolicy.Action) {
        let policy = ClientTLSPolicy(mode: mode, certificateLoaded: certificate)
        #expect(policy.sslRequestReceived(overTLS: false, unencryptedBytesFollow: false) == expected)
    }

    @Test func bytesBehindTheSSLRequestAreRefused() {
        let policy = ClientTLSPolicy(mode: .prefer, certificateLoaded: true)
        guard case .fail(let sqlState, let message, _) = policy.sslRequestReceived(overTLS: false, unencryptedBytesFollow: true) else {
            Issue.record("injected bytes accepted"); return
        }
        #expect(sqlState == "08P01")
        #expect(message == "received unencrypted data after SSL request")
        // Without TLS on offer, the 'N' lets the StartupMessage behind it be read as usual.
        #expect(ClientTLSPolicy(mode: .disable, certificateLoaded: true)
            .sslRequestReceived(overTLS: false, unencryptedBytesFollow: true) == .refuseTLS)
    }

    @Test func secondSSLRequestInsideTLS() {
        let policy = ClientTLSPolicy(mode: .require, certificateLoaded: true)
        guard case .fail("08P01", _, _) = policy.sslRequestReceived(overTLS: true, unencryptedBytesFollow: false) else {
            Issue.record("SSLRequest over TLS accepted"); return
        }
    }

    @Test(arguments: [SSLMode.require, .verifyCA, .verifyFull])
    func unencryptedStartupRefused(_ mode: SSLMode) {
        let policy = ClientTLSPolicy(mode: mode, certificateLoaded: true)
        guard case .fail(let sqlState, let message, _) = policy.startupReceived(overTLS: false, user: "app", peerCommonName: nil) else {
            Issue.record("\(mode): plaintext client accepted"); return
        }
        #expect(sqlState == "28000")
        #expect(message.hasPrefix("pgstash requires SSL"))
    }

    @Test(arguments: [SSLMode.disable, .allow, .prefer])
    func unencryptedStartupServed(_ mode: SSLMode) {
        let policy = ClientTLSPolicy(mode: mode, certificateLoaded: true)
        #expect(policy.startupReceived(overTLS: false, user: "app", peerCommonName: nil) == .proceed)
    }

    @Test func verifyFullMatchesTheCommonNameToTheUser() {
        let policy = ClientTLSPolicy(mode: .verifyFull, certificateLoaded: true)
        #expect(policy.startupReceived(overTLS: true, user: "app", peerCommonName: "app") == .proceed)
        for cn in ["other", nil] as [String?] {
            guard case .fail("28000", let message, _) = policy.startupReceived(overTLS: true, user: "app", peerCommonName: cn) else {
                Issue.record("CN \(cn ?? "none") accepted for app"); continue
            }
            #expect(message.contains("CN mismatch"))
        }
        // verify-ca checks the chain only (in the handshake).
        #expect(ClientTLSPolicy(mode: .verifyCA, certificateLoaded: true)
            .startupReceived(overTLS: true, user: "app", peerCommonName: "other") == .proceed)
    }
}

@Suite struct UpstreamTLSNegotiationTests {
    let S = UInt8(ascii: "S"), N = UInt8(ascii: "N")

    @Test(arguments: [
        (SSLMode.disable, UpstreamTLSNegotiation.Action.sendStartup), (.allow, .sendStartup),
        (.prefer, .sendSSLRequest), (.require, .sendSSLRequest), (.verifyCA, .sendSSLRequest), (.verifyFull, .sendSSLRequest),
    ])
    func firstStep(_ mode: SSLMode, _ expected: UpstreamTLSNegotiation.Action) {
        #expect(UpstreamTLSNegotiation(mode: mode).connected() == expected)
    }

    @Test func preferFallsBackToPlaintext() {
        let n = UpstreamTLSNegotiation(mode: .prefer)
        #expect(n.responseReceived(S, trailingBytes: 0) == .startTLS)
        #expect(n.responseReceived(N, trailingBytes: 0) == .sendStartup)
    }

    @Test(arguments: [SSLMode.require, .verifyCA, .verifyFull])
    func requiredTLSRefused(_ mode: SSLMode) {
        let n = UpstreamTLSNegotiation(mode: mode)
        guard case .fail("08006", let message) = n.responseReceived(N, trailingBytes: 0) else {
            Issue.record("\(mode): 'N' accepted"); return
        }
        #expect(message.hasPrefix("server does not support SSL, but SSL was required"))
    }

    @Test func bytesBehindTheAnswerAreRefused() {
        #expect(UpstreamTLSNegotiation(mode: .require).responseReceived(S, trailingBytes: 3)
            == .fail(sqlState: "08P01", message: "received unencrypted data after SSL response"))
    }

    @Test func anErrorInsteadOfAnAnswer() {
        guard case .fail("08P01", let message) = UpstreamTLSNegotiation(mode: .prefer).responseReceived(UInt8(ascii: "E"), trailingBytes: 20) else {
            Issue.record("'E' taken as an answer"); return
        }
        #expect(message.contains("'E'"))
    }

    @Test func allowRetriesOnceWithTLSAfterAPgHbaRefusal() {
        let first = UpstreamTLSNegotiation(mode: .allow)
        #expect(first.connected() == .sendStartup)
        #expect(first.shouldRetryWithTLS(afterLoginFailure: "28000"))
        #expect(!first.shouldRetryWithTLS(afterLoginFailure: "28P01"))    // a wrong password is not retried
        let retry = UpstreamTLSNegotiation(mode: .allow, retryingWithTLS: true)
        #expect(retry.connected() == .sendSSLRequest)
        #expect(retry.responseReceived(S, trailingBytes: 0) == .startTLS)
        guard case .fail = retry.responseReceived(N, trailingBytes: 0) else { Issue.record("retry went plaintext"); return }
        #expect(!retry.shouldRetryWithTLS(afterLoginFailure: "28000"))
        #expect(!UpstreamTLSNegotiation(mode: .prefer).shouldRetryWithTLS(afterLoginFailure: "28000"))
    }
}

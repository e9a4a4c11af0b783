import Testing
@testable import ProxyConfig

/// `[tls]` and the per-database `sslmode`, `sslrootcert`, `sslcert`, `sslkey`.
@Suite struct TLSSectionTests {
    static let files = ["server.pem": "x", "server.key": "x", "ca.pem": "x"]

    @Test func everyKeyWithPathsResolvedAgainstTheFile() throws {
        let dir = try temporaryDirectory(Self.files)
        defer { removeDirectory(dir) }
        let config = try load(minimal + """

            sslmode = "verify-full"
            sslrootcert = "ca.pem"
            sslcert = "server.pem"
            sslkey = "server.key"
            [tls]
            client_mode = "verify-ca"
            cert_file = "server.pem"
            key_file = "server.key"
            ca_file = "ca.pem"
            protocols = ["TLSv1.3"]
            ciphers = "ECDHE+AESGCM"
            """, directory: dir)
        #expect(config.tls.clientMode == .verifyCA)
        #expect(config.tls.certFile == "\(dir)/server.pem")
        #expect(config.tls.keyFile == "\(dir)/server.key")
        #expect(config.tls.caFile == "\(dir)/ca.pem")
        #expect(config.tls.protocols == .tls13 ... .tls13)
        #expect(config.tls.ciphers == "ECDHE+AESGCM")
        let db = try #require(config.databases["app"]).tls
        #expect(db.sslmode == .verifyFull)
        #expect(db.sslrootcert == "\(dir)/ca.pem")
        #expect(db.sslcert == "\(dir)/server.pem" && db.sslkey == "\(dir)/server.key")
    }

    @Test func defaults() throws {
        let config = try load(minimal)
        #expect(config.tls == TLSConfig())
        #expect(config.tls.clientMode == .disable && !config.tls.canServeTLS)
        #expect(config.tls.protocols == .tls12 ... .tls13)
        #expect(config.databases["app"]?.tls.sslmode == .disable)
    }

    @Test func systemTrustStore() throws {
        let config = try load(minimal + "\nsslmode = \"verify-full\"\nsslrootcert = \"system\"")
        #expect(config.databases["app"]?.tls.sslrootcert == "system")
    }

    @Test(arguments: [
        ("[tls]\nclient_mode = \"required\"", "tls.client_mode must be"),
        ("[tls]\nclient_mode = \"require\"", "tls.client_mode = \"require\" needs tls.cert_file and tls.key_file"),
        ("[tls]\ncert_file = \"server.pem\"", "tls.cert_file is set without tls.key_file"),
        ("[tls]\nclient_mode = \"verify-ca\"\ncert_file = \"server.pem\"\nkey_file = \"server.key\"",
         "needs tls.ca_file"),
        ("[tls]\ncert_file = \"missing.pem\"\nkey_file = \"server.key\"", "tls.cert_file: cannot read"),
        ("[tls]\nprotocols = [\"TLSv1.1\"]", "unknown or unsupported protocol \"TLSv1.1\""),
        ("[tls]\nprotocols = []", "tls.protocols must name at least one protocol"),
        ("[tls]\nclient_tls_sslmode = \"require\"", "unknown key tls.client_tls_sslmode"),
    ])
    func invalidTLS(_ snippet: String, _ message: String) throws {
        let dir = try temporaryDirectory(Self.files)
        defer { removeDirectory(dir) }
        let found = errors(minimal + "\n" + snippet, directory: dir)
        #expect(found.count == 1, "\(found.map(\.message))")
        #expect(found.first?.message.contains(message) == true, "\(found.map(\.message))")
    }

    @Test(arguments: [
        ("sslmode = \"verify-full\"", "databases.app.sslmode = \"verify-full\" needs databases.app.sslrootcert"),
        ("sslmode = \"on\"", "databases.app.sslmode must be"),
        ("sslcert = \"server.pem\"", "databases.app.sslcert is set without databases.app.sslkey"),
        ("sslrootcert = \"nope.pem\"", "databases.app.sslrootcert: cannot read"),
    ])
    func invalidDatabase(_ snippet: String, _ message: String) throws {
        let dir = try temporaryDirectory(Self.files)
        defer { removeDirectory(dir) }
        let found = errors(minimal + "\n" + snippet, directory: dir)
        #expect(found.count == 1, "\(found.map(\.message))")
        #expect(found.first?.message.contains(message) == true, "\(found.map(\.message))")
    }

    @Test func upstreamURLCarriesSSLParameters() throws {
        let config = try ConfigLoader.fromUpstream(
            url: "postgresql://app:pw@db.internal/shop?sslmode=verify-full&sslrootcert=system", listen: nil)
        #expect(config.databases["shop"]?.tls.sslmode == .verifyFull)
        #expect(config.databases["shop"]?.tls.sslrootcert == "system")
    }
}

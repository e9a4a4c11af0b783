import Foundation
import Glibc
import Testing

/// TLS between clients and pgstash (`[tls]`) and between pgstash and PostgreSQL (per-database
/// `sslmode`), driven through libpq and psql with certificates made at test time (docs/tls.md).
@Suite(.serialized) struct TLSTests {
    /// Made once per test process, in the test servers' temporary folder. (Not a `static let`:
    /// waiting for a child process inside a lazy global initializer hangs.)
    static let pkiCache = PKICache()

    func setUp() throws -> (TestEnvironment, TestPKI) {
        let env = try TestEnvironment.require()
        return (env, try Self.pkiCache.get(in: "\(env.tmp)/tls-pki-\(getpid())"))
    }

    /// A proxy.conf in its own folder: trust auth toward the test PostgreSQL, plus `tls` and
    /// any extra `[databases.NAME]` sections.
    func writeConfig(_ env: TestEnvironment, tls: String, databases: String = "",
                     auth: String = "type = \"trust\"") throws -> String {
        let dir = "\(env.tmp)/tls-\(freePort())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "\"postgres\" \"\(env.pgPassword)\"\n".write(toFile: "\(dir)/users.txt", atomically: true, encoding: .utf8)
        let conf = """
            [auth]
            \(auth)
            [metrics]
            enabled = false
            [admin]
            users = ["postgres"]
            [tls]
            \(tls)
            [databases.postgres]
            host = "127.0.0.1"
            port = \(env.pgPort)
            user = "postgres"
            password = "\(env.pgPassword)"
            \(databases)
            """
        let path = "\(dir)/proxy.conf"
        try conf.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func serverTLS(_ pki: TestPKI, mode: String, extra: String = "") -> String {
        """
        client_mode = "\(mode)"
        cert_file = "\(pki.pem("server"))"
        key_file = "\(pki.key("server"))"
        \(extra)
        """
    }

    // MARK: Clients ↔ pgstash

    @Test func verifyFullClientConnectsOverTLS() throws {
        let (env, pki) = try setUp()
        let proxy = try PgStashProcess(env, config: try writeConfig(env, tls: serverTLS(pki, mode: "require")))
        for host in ["localhost", "127.0.0.1"] {
            let r = libpqQuery(proxy.tlsDSN(host: host, "sslmode=verify-full sslrootcert=\(pki.pem("ca"))"))
            #expect(r.connected, "\(host): \(r.error)")
            #expect(r.sslInUse, "\(host): libpq reports no TLS")
            #expect(r.value == "42")
        }
        // SHOW CLIENTS names the version and cipher.
        let clients = try psql(proxy.tlsDSN(db: "pgstash", "sslmode=require"), "SHOW CLIENTS")
        #expect(clients.stdout.contains("|TLSv1.3/TLS_"), "\(clients.stdout)\(clients.stderr)")
        // The certificate must chain to the CA the client trusts.
        let wrongCA = libpqQuery(proxy.tlsDSN("sslmode=verify-full sslrootcert=\(pki.pem("other"))"))
        #expect(!wrongCA.connected)
        #expect(wrongCA.error.contains("certificate verify failed"), "\(wrongCA.error)")
    }

    @Test func requireModeRefusesUnencryptedClients() throws {
        let (env, pki) = try setUp()
        let proxy = try PgStashProcess(env, config: try writeConfig(env, tls: serverTLS(pki, mode: "require")))
        let r = libpqQuery(proxy.tlsDSN("sslmode=disable"))
        #expect(!r.connected)
        #expect(r.error.contains("FATAL:  pgstash requires SSL"), "\(r.error)")
        // The refusal is logged when the connection closes (a "login failed" event).
        let deadline = Date().addingTimeInterval(3)
        while !(proxy.log.contains("28000") && proxy.log.contains("pgstash requires SSL")) && Date() < deadline { usleep(20_000) }
        #expect(proxy.log.contains("28000") && proxy.log.contains("pgstash requires SSL"), "\(proxy.log)")
        let encrypted = libpqQuery(proxy.tlsDSN("sslmode=require"))
        #expect(encrypted.sslInUse && encrypted.value == "42", "\(encrypted)")
    }

    @Test func disableModeAnswersNo() throws {
        let (env, pki) = try setUp()
        let proxy = try PgStashProcess(env, config: try writeConfig(env, tls: serverTLS(pki, mode: "disable")))
        let required = libpqQuery(proxy.tlsDSN("sslmode=require"))
        #expect(!required.connected)
        #expect(required.error.contains("server does not support SSL, but SSL was required"), "\(required.error)")
        let preferred = libpqQuery(proxy.tlsDSN("sslmode=prefer"))
        #expect(preferred.connected && !preferred.sslInUse && preferred.value == "42", "\(preferred)")
    }

    @Test func preferModeServesBoth() throws {
        let (env, pki) = try setUp()
        let proxy = try PgStashProcess(env, config: try writeConfig(env, tls: serverTLS(pki, mode: "prefer")))
        let plain = libpqQuery(proxy.tlsDSN("sslmode=disable"))
        #expect(plain.connected && !plain.sslInUse && plain.value == "42", "\(plain)")
        let encrypted = libpqQuery(proxy.tlsDSN("sslmode=prefer"))
        #expect(encrypted.connected && encrypted.sslInUse && encrypted.value == "42", "\(encrypted)")
        let tls12 = libpqQuery(proxy.tlsDSN("sslmode=require ssl_max_protocol_version=TLSv1.2"))
        #expect(tls12.connected && tls12.sslInUse, "\(tls12)")
        let tls11 = libpqQuery(proxy.tlsDSN("sslmode=require ssl_max_protocol_version=TLSv1.1"))
        #expect(!tls11.connected, "TLS 1.1 must not be offered")
    }

    @Test func clientCertificatesAreVerified() throws {
        let (env, pki) = try setUp()
        let tls = serverTLS(pki, mode: "verify-full", extra: "ca_file = \"\(pki.pem("ca"))\"")
        let proxy = try PgStashProcess(env, config: try writeConfig(env, tls: tls))
        let trust = "sslmode=verify-full sslrootcert=\(pki.pem("ca"))"
        let withCert = "\(trust) sslcert=\(pki.pem("client")) sslkey=\(pki.key("client"))"

        let ok = libpqQuery(proxy.tlsDSN(withCert))
        #expect(ok.connected && ok.sslInUse && ok.value == "42", "\(ok)")
        let noCert = libpqQuery(proxy.tlsDSN(trust))
        #expect(!noCert.connected, "a client without a certificate got in")
        // The certificate's CN (postgres) is not this user.
        let otherUser = libpqQuery(proxy.tlsDSN(user: "alice", withCert))
        #expect(!otherUser.connected)
        #expect(otherUser.error.contains("CN mismatch"), "\(otherUser.error)")
        // A certificate from another CA is refused in the handshake.
        let strangerCert = "\(trust) sslcert=\(pki.pem("stranger")) sslkey=\(pki.key("stranger"))"
        #expect(!libpqQuery(proxy.tlsDSN(strangerCert)).connected)
    }

    /// SCRAM-SHA-256-PLUS: libpq checks the binding against its own hash of our certificate.
    @Test func scramChannelBinding() throws {
        let (env, pki) = try setUp()
        let path = try writeConfig(env, tls: serverTLS(pki, mode: "prefer"),
                                   auth: "type = \"scram-sha-256\"\nauth_file = \"users.txt\"")
        let proxy = try PgStashProcess(env, config: path)
        let bound = libpqQuery(proxy.tlsDSN("sslmode=verify-full sslrootcert=\(pki.pem("ca")) channel_binding=require"))
        #expect(bound.connected && bound.sslInUse && bound.value == "42", "\(bound)")
        let wrong = libpqQuery("host=127.0.0.1 port=\(proxy.port) user=postgres password=wrong dbname=postgres sslmode=require channel_binding=require")
        #expect(!wrong.connected)
        #expect(wrong.error.contains("password authentication failed"), "\(wrong.error)")
        // Without TLS there is nothing to bind: libpq refuses on its own.
        let plain = libpqQuery(proxy.tlsDSN("sslmode=disable channel_binding=require"))
        #expect(!plain.connected)
        #expect(plain.error.contains("channel binding required, but SSL not in use"), "\(plain.error)")
        let plainOK = libpqQuery(proxy.tlsDSN("sslmode=disable"))
        #expect(plainOK.connected && plainOK.value == "42", "\(plainOK)")
    }

    @Test func largeResultOverTLSArrivesIntact() throws {
        let (env, pki) = try setUp()
        let proxy = try PgStashProcess(env, config: try writeConfig(env, tls: serverTLS(pki, mode: "require")))
        // About 52 MB of rows: the proxy writes far faster than psql reads, so TLS writes
        // come back short and wait for the socket (SSL_ERROR_WANT_WRITE).
        let sql = "SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 80000) g"
        let viaTLS = try psql(proxy.tlsDSN("sslmode=require"), sql, timeout: 300)
        let direct = try psql(env.directDSN(), sql, timeout: 300)
        #expect(viaTLS.status == 0, "\(viaTLS.stderr)")
        #expect(viaTLS.stdout.utf8.count > 50_000_000)
        #expect(viaTLS.stdout == direct.stdout)
        // And a large message the other way: a 20 MB literal through the TLS read path.
        let literal = "SELECT md5('" + String(repeating: "pgstash", count: 3_000_000) + "');\n"
        let up = try runCommand(["psql", "-X", "-A", "-t", "-q", "-d", proxy.tlsDSN("sslmode=require"), "-f", "-"],
                                stdin: literal, timeout: 300)
        let upDirect = try runCommand(["psql", "-X", "-A", "-t", "-q", "-d", env.directDSN(), "-f", "-"],
                                      stdin: literal, timeout: 300)
        #expect(up.status == 0, "\(up.stderr)")
        #expect(up.stdout == upDirect.stdout && up.stdout.count == 33)
    }

    @Test func sighupReloadsTheCertificate() throws {
        let (env, pki) = try setUp()
        let dir = "\(env.tmp)/tls-reload-\(freePort())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for suffix in ["pem", "key"] {
            try FileManager.default.copyItem(atPath: "\(pki.dir)/server.\(suffix)", toPath: "\(dir)/cert.\(suffix)")
        }
        let tls = "client_mode = \"require\"\ncert_file = \"\(dir)/cert.pem\"\nkey_file = \"\(dir)/cert.key\""
        let proxy = try PgStashProcess(env, config: try writeConfig(env, tls: tls))
        let byCA = proxy.tlsDSN("sslmode=verify-full sslrootcert=\(pki.pem("ca"))")
        let byOther = proxy.tlsDSN("sslmode=verify-full sslrootcert=\(pki.pem("other"))")
        #expect(libpqQuery(byCA).sslInUse)

        // A renewed certificate (here from another CA) is used by new connections after SIGHUP.
        for suffix in ["pem", "key"] {
            try FileManager.default.removeItem(atPath: "\(dir)/cert.\(suffix)")
            try FileManager.default.copyItem(atPath: "\(pki.dir)/stranger.\(suffix)", toPath: "\(dir)/cert.\(suffix)")
        }
        proxy.signal(SIGHUP)
        usleep(500_000)
        #expect(libpqQuery(byOther).sslInUse, "the new certificate is not served after SIGHUP: \(proxy.log)")
        #expect(!libpqQuery(byCA).connected)

        // A key that does not match its certificate rejects the reload whole.
        try FileManager.default.removeItem(atPath: "\(dir)/cert.key")
        try FileManager.default.copyItem(atPath: pki.key("client"), toPath: "\(dir)/cert.key")
        proxy.signal(SIGHUP)
        usleep(500_000)
        #expect(proxy.isRunning)
        #expect(proxy.log.contains("reload rejected"))
        #expect(libpqQuery(byOther).sslInUse, "the running certificate must stay after a rejected reload")
    }

    // MARK: pgstash ↔ PostgreSQL

    /// A PostgreSQL that takes only TLS (hostssl), with a certificate for `localhost` only.
    @Test func upstreamSSLModes() throws {
        let (env, pki) = try setUp()
        let pg = try TLSPostgres(env: env, pki: pki)
        defer { pg.stop() }
        func db(_ name: String, host: String, _ settings: String) -> String {
            """
            [databases.\(name)]
            host = "\(host)"
            port = \(pg.port)
            dbname = "postgres"
            user = "postgres"
            password = "secret"
            \(settings)

            """
        }
        let root = "sslrootcert = \"\(pki.pem("ca"))\""
        let databases = [
            db("full", host: "localhost", "sslmode = \"verify-full\"\n\(root)"),
            db("fullip", host: "127.0.0.1", "sslmode = \"verify-full\"\n\(root)"),
            db("ca", host: "127.0.0.1", "sslmode = \"verify-ca\"\n\(root)"),
            db("wrongca", host: "localhost", "sslmode = \"verify-ca\"\nsslrootcert = \"\(pki.pem("other"))\""),
            db("required", host: "127.0.0.1", "sslmode = \"require\""),
            db("allowed", host: "127.0.0.1", "sslmode = \"allow\""),
            db("plain", host: "127.0.0.1", "sslmode = \"disable\""),
            db("withcert", host: "localhost",
               "sslmode = \"verify-full\"\n\(root)\nsslcert = \"\(pki.pem("client"))\"\nsslkey = \"\(pki.key("client"))\""),
        ].joined()
        let proxy = try PgStashProcess(env, config: try writeConfig(env, tls: "client_mode = \"disable\"", databases: databases))
        let sslQuery = "SELECT ssl::text || ' ' || coalesce(client_dn, '-') FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        func run(_ name: String) -> LibpqOutcome { libpqQuery(proxy.dsn(db: name), sslQuery) }

        for name in ["full", "ca", "required", "allowed"] {
            let r = run(name)
            #expect(r.value == "true -", "\(name): \(r)")
        }
        // pgstash presents its client certificate when configured.
        let withCert = run("withcert")
        #expect(withCert.value == "true /CN=postgres", "\(withCert) \(proxy.log)")
        // verify-full checks the host name: the certificate names localhost, not 127.0.0.1.
        let mismatch = run("fullip")
        #expect(!mismatch.connected)
        #expect(mismatch.error.contains("IP address mismatch"), "\(mismatch.error)")
        let wrongCA = run("wrongca")
        #expect(!wrongCA.connected)
        #expect(wrongCA.error.contains("certificate verify failed"), "\(wrongCA.error)")
        let plain = run("plain")
        #expect(!plain.connected)
        #expect(plain.error.contains("no encryption"), "\(plain.error)")

        let servers = try psql(proxy.dsn(db: "pgstash"), "SHOW SERVERS")
        #expect(servers.stdout.contains("|full|idle|") && servers.stdout.contains("|TLSv1.3/TLS_"), "\(servers.stdout)")

        // TLS on both sides of pgstash, with a large result.
        let bothDSN = "host=127.0.0.1 port=\(proxy.port) user=postgres dbname=full sslmode=prefer"
        let sql = "SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 40000) g"
        let both = try psql(bothDSN, sql, timeout: 300)
        let direct = try psql(env.directDSN(), sql, timeout: 300)
        #expect(both.status == 0, "\(both.stderr)")
        #expect(both.stdout == direct.stdout && both.stdout.utf8.count > 25_000_000)
    }
}

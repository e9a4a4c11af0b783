import EventLoop
import PostgresWire
import ProxyConfig
import ProxyCore

/// Start-up and authentication of a client, before it may send queries.
extension ClientHandler {
    /// The untyped packets before authentication ("Message Flow": Start-up).
    func startupInput() {
        while true {
            let packet: StartupPacket
            do {
                guard let len = try Framing.peekStartupLength(conn.inbound.readableView) else { return }
                guard conn.inbound.readableBytes >= len else { return }
                packet = try StartupPacket.decode(conn.inbound.readableView.prefix(len))
                conn.inbound.moveReaderIndex(forwardBy: len)
            } catch {
                return fatal("08P01", "invalid startup packet: \(error)",
                             hint: "Is this a PostgreSQL client? pgstash speaks protocol 3.0.")
            }
            switch packet {
            case .sslRequest:
                switch tlsPolicy.sslRequestReceived(overTLS: conn.isTLS, unencryptedBytesFollow: conn.inbound.readableBytes > 0) {
                case .acceptTLS:
                    guard let context = server.clientTLSContext else { fallthrough }
                    conn.send([UInt8(ascii: "S")])
                    conn.startTLS(context, role: .server)
                    return
                case .refuseTLS, .proceed:
                    conn.send([UInt8(ascii: "N")])
                case let .fail(sqlState, message, hint):
                    return fatal(sqlState, message, hint: hint)
                }
            case .gssEncRequest:
                conn.send([UInt8(ascii: "N")])     // no GSSAPI encryption
            case let .cancelRequest(pid, key):
                server.cancelRequested(processID: pid, secretKey: key)
                return close(error: nil)
            case let .startup(_, params):
                if case .rejecting = phase {
                    return fatal("53300", "sorry, too many clients already (listen.max_clients = \(config.listen.maxClients))",
                                 hint: "Retry later, or raise listen.max_clients in proxy.conf.")
                }
                return startupReceived(params)
            }
        }
    }

    /// `[tls] client_mode` with whether a certificate is loaded.
    var tlsPolicy: ClientTLSPolicy {
        ClientTLSPolicy(mode: config.tls.clientMode, certificateLoaded: server.clientTLSContext != nil)
    }

    func startupReceived(_ params: [(String, String)]) {
        startupParameters = params
        user = params.first { $0.0 == "user" }?.1 ?? ""
        databaseName = params.first { $0.0 == "database" }?.1 ?? user
        guard !user.isEmpty else {
            return fatal("28000", "no PostgreSQL user name specified in startup packet")
        }
        if case let .fail(sqlState, message, hint) = tlsPolicy.startupReceived(
            overTLS: conn.isTLS, user: user, peerCommonName: conn.isTLS ? conn.tlsPeerCommonName : nil) {
            return fatal(sqlState, message, hint: hint)
        }
        if params.contains(where: { $0.0 == "replication" && $0.1 != "false" && $0.1 != "off" && $0.1 != "0" }) {
            return fatal("08P01", "pgstash does not proxy replication connections",
                         hint: "Connect replication clients to PostgreSQL directly.")
        }
        // No pool before authentication (an unknown name must not leave one behind), and the
        // database is checked only after it, as PostgreSQL does: a client that cannot log in
        // learns nothing about which databases exist.
        if server.needsAuthLookup(user: user) {
            phase = .lookingUp
            return server.lookUpCredential(for: self)
        }
        authenticate(credential: server.credentials.credential(for: user))
    }

    /// Starts the exchange against `credential` (nil: the user is unknown; the mock
    /// exchange runs and fails as a wrong password would).
    func authenticate(credential: StoredCredential?) {
        var auth = server.authenticator(user: user, credential: credential, channelBinding: conn.tlsServerEndPoint)
        let action = auth.start()
        phase = .authenticating
        authenticator = auth
        perform(action)
    }

    /// `[auth] auth_query` answered for this client's user: authenticate against what it
    /// found, or refuse when the lookup failed (08006 when PostgreSQL was unreachable).
    func authLookupCompleted(_ outcome: Result<AuthQueryAnswer, AuthQueryError>) {
        guard case .lookingUp = phase else { return }
        conn.resumeReading()
        switch outcome {
        case .failure(let error):
            // The cause (host, port, libpq's words) goes to the log only: the client has not
            // authenticated.
            log.warning("auth_query lookup failed", ["user": user, "sqlstate": error.sqlState, "error": error.description])
            fatal(error.sqlState, "pgstash could not look up the password of user \"\(user)\"",
                  hint: "The cause is in pgstash's log; check [auth] auth_user and auth_query, and that PostgreSQL is reachable.")
        case .success(let answer):
            let now = wallClock()
            if let why = answer.refusal(at: now) { log.info("auth_query refuses user \(user): \(why)") }
            lookedUp = answer.credential(at: now)
            authenticate(credential: lookedUp)
            if conn.inbound.readableBytes > 0 { authInput() }
        }
    }

    func authInput() {
        while case .authenticating = phase, var auth = authenticator {
            let frame: (id: UInt8, body: [UInt8])
            do {
                guard let f = try Framing.nextFrame(&conn.inbound, maxBodyLength: 10_000) else { return }
                frame = f
            } catch {
                return fatal("08P01", "invalid authentication message: \(error)")
            }
            guard frame.id == FrontendMessageID.password.rawValue else {
                return fatal("08P01", "expected a password message, got message type \(frame.id)")
            }
            let action = auth.passwordDataReceived(frame.body)
            authenticator = auth
            perform(action)
        }
    }

    func perform(_ action: ClientAuthenticator.Action) {
        switch action {
        case .send(let bytes):
            conn.send(bytes)
        case .fail(let sqlState, let message):
            let hint = sqlState == "28P01"
                ? "Check the user name and password in the client's connection string; pgstash checks them against [auth] in proxy.conf (auth_file or the --upstream credentials)."
                : nil
            fatal(sqlState, message, hint: hint)
        case .succeed(let final):
            if let lookedUp, case .authenticating = phase, let auth = authenticator {
                upstreamSecret = LookedUpSecret(password: lookedUp.md5Secret, passThrough: auth.passThrough)
            }
            authenticator = nil
            if let final { conn.send(final) }
            conn.send(BackendMessage.authentication(.ok).encoded)
            authenticated()
        }
    }

    /// Authentication succeeded: find (or create) the pool, then wait for its parameters.
    func authenticated() {
        if databaseName == AdminConsole.databaseName { return adminAuthenticated() }
        guard let pool = server.pool(database: databaseName, user: user, lookedUp: upstreamSecret) else {
            let known = server.config.databases.keys.sorted().joined(separator: ", ")
            return fatal("3D000", "database \"\(databaseName)\" does not exist in pgstash",
                         hint: "Connect to one of: \(known), or add a [databases.\(databaseName)] section to proxy.conf.")
        }
        self.pool = pool
        logConnected()
        if server.admin.digests != nil { admin.digest = DigestProbe() }
        let settings = SessionSettings(startupParameters: startupParameters)
        session = ClientSession(
            clientID: id.raw,
            configuration: .init(transactionPooling: pool.mode == .transaction,
                                 pinOnSessionState: pool.config.pinOnSessionState,
                                 poolName: "\(pool.key.database)/\(pool.key.user)",
                                 listenRelay: pool.config.maxListeners >= 1),
            settings: settings,
            analyze: { [unowned server] in server.analysisCache.analysis(of: $0).statements })
        if let known = pool.serverParameters, pool.mode == .transaction, !Self.needsServerToReport(settings, known) {
            return completeLogin()
        }
        // The values PostgreSQL reports are its canonical spellings (`utf-8` → `UTF8`,
        // `iso` → `ISO, MDY`, `utc` → `UTC`): a server applies the client's settings first.
        phase = .awaitingParameters
        waitingForServer = true
        pool.acquire(for: self)
    }


    /// Reported settings PostgreSQL may spell differently from the client (application_name
    /// comes back as given).
    static let canonicalizedReports = ["client_encoding", "datestyle", "intervalstyle", "timezone",
                                       "standard_conforming_strings", "default_transaction_read_only"]

    /// Whether a startup setting differs from what the pool's servers report, so that only a
    /// server can say how PostgreSQL spells it.
    static func needsServerToReport(_ settings: SessionSettings, _ reported: [String: String]) -> Bool {
        let server = Dictionary(reported.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        return canonicalizedReports.contains { name in
            guard case .literal(let v)? = settings[name] else { return false }
            return server[name] != v
        }
    }
}

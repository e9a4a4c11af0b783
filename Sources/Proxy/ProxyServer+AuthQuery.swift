import CLibPQ
import EventLoop
import ProxyConfig
import ProxyCore

/// What a pool of a user found by `auth_query` logs in upstream with: the secret found (an
/// md5 hash, or a plain password from a custom query), and the SCRAM keys recovered from the
/// last client's proof.
struct LookedUpSecret: Equatable {
    var password: String?
    var passThrough: ScramPassThroughKeys?
}

/// `[auth] auth_user` / `auth_query`: users not in the auth file are looked up in PostgreSQL,
/// off the loop, through the `AuthQueryCache` machine.
extension ProxyServer {
    /// Whether `user`'s login waits for a lookup: auth_query is on, and the auth file (which
    /// takes precedence, as in PgBouncer) does not have the user.
    func needsAuthLookup(user: String) -> Bool {
        config.auth.authUser != nil && config.auth.type != .trust && credentials.credential(for: user) == nil
    }

    /// Asks for `client`'s user; `client.authLookupCompleted` is called with the answer (at
    /// once when cached). A database pgstash does not serve (with no `auth_dbname`) has no
    /// upstream to ask: the user is treated as unknown, so the refusal is the usual 28P01.
    func lookUpCredential(for client: ClientHandler) {
        let database = config.auth.authDbname ?? client.databaseName
        guard config.databases[database] != nil else {
            return client.authLookupCompleted(.success(AuthQueryAnswer(credential: nil, refusal: "unknown database")))
        }
        run(authQueries.lookupRequested(AuthLookupKey(database: database, user: client.user), by: client.id, now: loop.now))
    }

    /// The client left while its lookup ran.
    func authLookupAbandoned(by client: ClientHandler) {
        authQueries.clientGaveUp(client.id)
    }

    /// The janitor's part: `auth_user` connections unused for 60 s are closed, off the loop.
    func closeIdleAuthConnections(now: Double) {
        let expired = authConnections.takeExpired(now: now)
        guard !expired.isEmpty else { return }
        let box = ConnectionsToClose(expired)
        _ = BackgroundThread.run(on: loop, { box.closeAll() }, completion: { _ in })
    }

    /// After a reload: answers are dropped (the query, TTL or `auth_user` may have changed).
    func reloadAuthQueries(_ new: ProxyConfiguration) {
        authQueries.ttl = new.auth.authCacheTTL
        authQueries.flush()
    }

    private static func metricOutcome(_ outcome: Result<AuthQueryAnswer, AuthQueryError>) -> String {
        switch outcome {
        case .success(let answer): return answer.credential == nil ? "refused" : "found"
        case .failure: return "failed"
        }
    }

    private func run(_ actions: [AuthQueryCache.Action]) {
        for action in actions {
            switch action {
            case .startLookup(let key):
                guard let params = AuthQueryParameters(database: key.database, in: config) else {
                    run(authQueries.lookupCompleted(key, .failure(.overloaded("auth_query is no longer configured for database \(key.database)")), now: loop.now))
                    continue
                }
                log.debug("auth_query lookup of \(key)")
                let started = loop.now
                AuthQueryLoader.lookUp(params, user: key.user, connections: authConnections, on: loop) { [weakRef] lookup in
                    guard let self = weakRef.target else { return }
                    self.metrics.authQueryDuration.labels().observe(self.loop.now - started)
                    self.metrics.authQueryLookups.labels(Self.metricOutcome(lookup.outcome)).increment()
                    self.metrics.authQueryConnections.labels().increment(by: lookup.connectionsOpened)
                    self.run(self.authQueries.lookupCompleted(key, lookup.outcome, now: self.loop.now))
                }
            case let .answer(id, outcome):
                clients[id.raw]?.authLookupCompleted(outcome)
            }
        }
    }
}

/// libpq connections handed to a background thread to be closed (`PQfinish` writes to the
/// socket, so it stays off the loop). The loop never touches them again.
private final class ConnectionsToClose: @unchecked Sendable {
    let connections: [OpaquePointer]
    init(_ connections: [OpaquePointer]) { self.connections = connections }
    func closeAll() { for c in connections { PQfinish(c) } }
}

import EventLoop
import PostgresWire
import ProxyConfig
import ProxyCore

/// Drives one `Pool` state machine: opens, hands out and closes real server connections as
/// its actions say, and keeps what the clients of this pool share (server parameters).
final class PoolDriver {
    let key: PoolKey
    private(set) var database: DatabaseConfig
    let upstreamPassword: String?
    private(set) var pool: Pool
    unowned let server: ProxyServer
    var servers: [ServerID: ServerHandler] = [:]
    private var waiting: [ClientID: ClientHandler] = [:]
    /// ParameterStatus values of the first server that logged in: what a new client is told.
    var serverParameters: [String: String]?
    lazy var stats = server.metrics.stats(for: key)

    /// Takes its settings from `configuration` for `key` (`effectivePool` of the key's
    /// database and overriding client user), as `reconfigure` does after a reload.
    init(key: PoolKey, database: DatabaseConfig, upstreamPassword: String?, configuration: ProxyConfiguration,
         server: ProxyServer, idBase: Int, idStride: Int) {
        self.key = key
        self.database = database
        self.upstreamPassword = upstreamPassword
        self.pool = Pool(config: Self.settings(for: key, in: configuration), idBase: idBase, idStride: idStride)
        self.server = server
        server.log.info("pool \(key.database)/\(key.user) created (mode \(pool.config.mode.rawValue)"
            + (key.overridesOf.map { ", [pool.users.\($0)]" } ?? "") + ")")
    }

    var mode: PoolMode { pool.config.mode }
    var config: PoolConfig { pool.config }
    var now: Double { server.loop.now }

    func reconfigure(config: ProxyConfiguration) {
        if let db = config.databases[key.database] { database = db }
        pool.config = Self.settings(for: key, in: config)
    }

    /// The same user decides the settings at creation and at every reload: the client user
    /// the key names for its overrides, never the upstream user.
    private static func settings(for key: PoolKey, in configuration: ProxyConfiguration) -> PoolConfig {
        configuration.effectivePool(database: key.database, user: key.overridesOf)
    }

    // MARK: Requests from clients and servers

    func acquire(for client: ClientHandler) {
        waiting[client.id] = client
        stats.acquireStarted(client.id, now: now)
        run(pool.acquireRequested(by: client.id, now: now))
    }

    func cancelWait(for client: ClientHandler) {
        guard waiting.removeValue(forKey: client.id) != nil else { return }
        stats.acquireEnded(client.id, now: now)
        pool.clientGaveUp(client.id)
    }

    func release(_ s: ServerHandler, reusable: Bool) {
        run(pool.serverReleased(s.id, reusable: reusable, now: now))
    }

    func serverReady(_ s: ServerHandler) {
        if serverParameters == nil { serverParameters = s.parameters }
        run(pool.serverConnected(s.id, now: now))
    }

    func serverFailed(_ s: ServerHandler, sqlState: String, message: String) {
        servers[s.id] = nil
        stats.connectFailures.increment()
        server.log.warning("pool \(key.database)/\(key.user): \(message)")
        run(pool.serverConnectFailed(s.id, sqlState: sqlState, error: message, now: now))
    }

    func serverClosed(_ s: ServerHandler) {
        servers[s.id] = nil
        run(pool.serverClosed(s.id, now: now))
    }

    func tick(now: Double) { run(pool.tick(now: now)) }

    // MARK: Actions

    private func run(_ actions: [PoolAction]) {
        for a in actions {
            switch a {
            case .connect(let id):
                let s = ServerHandler(id: id, pool: self)
                servers[id] = s
                s.connect()
            case let .assign(sid, cid):
                stats.acquireEnded(cid, now: now)
                guard let s = servers[sid] else { continue }
                guard let c = waiting.removeValue(forKey: cid) else {
                    // The client left meanwhile: give the server back.
                    run(pool.serverReleased(sid, reusable: true, now: now))
                    continue
                }
                c.serverAssigned(s)
            case .close(let sid):
                servers[sid]?.close()
            case let .fail(cid, failure):
                stats.acquireEnded(cid, now: now)
                waiting.removeValue(forKey: cid)?.acquireFailed(failure, pool: self)
            }
        }
    }
}

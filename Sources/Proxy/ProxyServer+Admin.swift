import EventLoop
import ProxyConfig
import ProxyCore

/// The admin console's view of the process (`AdminSnapshot`) and the actions it takes on it.
extension ProxyServer {
    /// The live state, as computed views over clients, pools and their servers.
    func adminSnapshot() -> AdminSnapshot {
        let mono = loop.now
        let wall = wallClock()
        var s = AdminSnapshot(version: admin.version, wallClock: wall, config: config)
        s.pausedAll = admin.pausedAll
        s.pausedDatabases = admin.pausedDatabases
        let drivers = pools.values.sorted { ($0.key.database, $0.key.user) < ($1.key.database, $1.key.user) }
        let live = clients.values.filter { if case .closed = $0.phase { return false }; return true }
            .sorted { $0.id.raw < $1.id.raw }
        for p in drivers {
            var row = AdminSnapshot.PoolRow(database: p.key.database, user: p.key.user, mode: p.mode.rawValue)
            for c in live where c.pool === p {
                if c.waitingForServer { row.clientsWaiting += 1 } else if case .ready = c.phase { row.clientsActive += 1 }
            }
            row.serversActive = p.pool.activeCount
            row.serversIdle = p.pool.idleCount
            row.serversLogin = p.pool.connectingCount
            row.serversBeingCanceled = p.servers.values.filter { $0.state.cancelsInFlight > 0 }.count
            row.maxWait = p.pool.oldestWaitSince.map { max(mono - $0, 0) } ?? 0
            s.pools.append(row)
            s.serverCounts[p.key.database, default: 0] += p.pool.serverCount
            for sid in p.servers.keys.sorted(by: { $0.raw < $1.raw }) {
                s.servers.append(serverRow(p.servers[sid]!, of: p, wall: wall))
            }
        }
        var console = AdminSnapshot.PoolRow(database: AdminConsole.databaseName, user: AdminConsole.databaseName, mode: "statement")
        console.clientsActive = live.filter { $0.admin.session != nil }.count
        s.pools.append(console)
        s.clients = live.map { clientRow($0, now: mono) }
        s.stats = admin.stats(databases: Array(config.databases.keys), now: mono)
        s.cache = cacheFigures()
        return s
    }

    private func clientRow(_ c: ClientHandler, now: Double) -> AdminSnapshot.ConnectionRow {
        let state: String
        switch c.phase {
        case .startup, .lookingUp, .authenticating, .rejecting, .closed: state = "login"
        case .awaitingParameters: state = "waiting"
        case .ready: state = c.waitingForServer ? "waiting" : "active"
        }
        let peer = socketEndpoint(c.conn.fd, peer: true)
        let local = socketEndpoint(c.conn.fd, peer: false)
        var row = AdminSnapshot.ConnectionRow(
            user: c.user, database: c.databaseName, state: state, address: peer.address, port: peer.port,
            localAddress: local.address, localPort: local.port, connectTime: c.admin.connectedAt,
            requestTime: c.admin.requestAt ?? c.admin.connectedAt, ptr: c.id.description)
        if let since = c.waitingSince { row.wait = max(now - since, 0) }
        row.link = c.leased?.id.description ?? ""
        row.applicationName = c.startupParameters.first { $0.0 == "application_name" }?.1 ?? ""
        row.tls = c.conn.tlsSummary ?? ""
        return row
    }

    private func serverRow(_ sv: ServerHandler, of p: PoolDriver, wall: Double) -> AdminSnapshot.ConnectionRow {
        let state: String
        switch p.pool.state(of: sv.id) {
        case .connecting?, nil: state = "login"
        case .idle?: state = "idle"
        case .active?: state = "active"
        case .closing?: state = "closing"
        }
        let peer: (address: String, port: Int) = sv.conn.map { socketEndpoint($0.fd, peer: true) } ?? (p.database.host, p.database.port)
        let local: (address: String, port: Int) = sv.conn.map { socketEndpoint($0.fd, peer: false) } ?? ("", 0)
        let times: ServerTimes? = sv.times
        var row = AdminSnapshot.ConnectionRow(
            user: p.key.user, database: p.key.database, state: state, address: peer.address, port: peer.port,
            localAddress: local.address, localPort: local.port, connectTime: times?.connectedAt ?? wall,
            requestTime: times?.leasedAt ?? times?.connectedAt ?? wall, ptr: sv.id.description)
        row.link = sv.client?.id.description ?? ""
        row.remotePID = Int(sv.backendKey.processID)
        row.tls = sv.conn?.tlsSummary ?? ""
        return row
    }

    // MARK: Actions

    /// The pools a PAUSE/RESUME/KILL of `database` (nil: all) acts on.
    private func poolsServing(_ database: String?) -> [PoolDriver] {
        pools.values.filter { database == nil || $0.key.database == database }
    }

    /// Holds new transactions of `database` (nil: all databases, including pools created
    /// later); running transactions finish, then their servers close.
    func pauseDatabase(_ database: String?) {
        if let database { admin.pausedDatabases.insert(database) } else { admin.pausedAll = true }
        for p in poolsServing(database) { p.pause() }
        log.info("admin: paused \(database ?? "all databases")")
    }

    /// True once no pool of `database` (nil: all) has a server left, or it is no longer
    /// paused (a RESUME came first).
    func isPauseSettled(_ database: String?) -> Bool {
        poolsServing(database).allSatisfy { $0.pool.isPauseComplete || !$0.pool.isPaused }
    }

    func isStillPaused(_ database: String?) -> Bool {
        database.map { admin.isPaused($0) } ?? admin.pausedAll
    }

    func resumeDatabase(_ database: String?) {
        if let database { admin.pausedDatabases.remove(database) } else {
            admin.pausedAll = false
            admin.pausedDatabases.removeAll()
        }
        for p in poolsServing(database) where !admin.isPaused(p.key.database) { p.resume() }
        log.info("admin: resumed \(database ?? "all databases")")
    }

    /// Ends every client and server of `database` and holds new clients until RESUME.
    func killDatabase(_ database: String) {
        admin.pausedDatabases.insert(database)
        for p in poolsServing(database) { p.pause() }
        for c in clients.values where c.databaseName == database && c.admin.session == nil {
            c.fatal("57P01", "terminating connection due to administrator command (KILL \(database))",
                    hint: "Reconnect once the database is resumed.")
        }
        for p in poolsServing(database) {
            for s in Array(p.servers.values) { s.close() }
        }
        log.info("admin: killed database \(database)")
    }

    /// RELOAD: re-reads proxy.conf through the executable; nil on success.
    func reloadFromAdmin() -> AdminError? {
        guard let load = admin.loadConfiguration else {
            return AdminError(AdminSQLState.objectNotInPrerequisiteState, "pgstash runs without a configuration file (--upstream): nothing to reload",
                              hint: "Start pgstash with --config proxy.conf to use RELOAD.")
        }
        do {
            try reload(try load())
            return nil
        } catch {
            reloadRejected(error, source: "RELOAD")
            return AdminError(AdminSQLState.configFileError, "RELOAD rejected the configuration file; the running configuration stays: \(error)",
                              hint: "Fix the file (pgstash check --config FILE lists every error), then RELOAD again.")
        }
    }
}

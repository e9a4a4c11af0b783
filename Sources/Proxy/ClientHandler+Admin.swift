import EventLoop
import PostgresWire
import ProxyConfig
import ProxyCore

/// What the admin console keeps per client: the times SHOW CLIENTS reports (every client)
/// and, for console clients, their protocol machine and a command still running.
struct ClientAdminInfo {
    // The two the relay touches on every request first (stored in declaration order).
    /// The requests in flight, for query digests; nil while `[admin] query_digests = 0`.
    var digest: DigestProbe?
    /// When the client last got a server (wall clock); nil: never.
    var requestAt: Double?
    /// When the client connected (wall clock).
    let connectedAt = wallClock()
    /// Set for a client of the virtual database `pgstash`: it never leases a server.
    var session: AdminSession?
    /// A PAUSE waiting for running transactions to finish, polled by this timer.
    var pauseTimer: TimerID?
    /// For log lines: the client's address, when it connected (monotonic), whether it
    /// logged in, and why pgstash ended it (the first FATAL sent).
    var peer: (address: String, port: Int) = ("", 0)
    var connectedMonotonic: Double = 0
    var loggedIn = false
    var closeReason: (sqlState: String, message: String)?
}

/// The admin console of a client connected to database `pgstash` as an `[admin] users`
/// user: its messages go to an `AdminSession`, its commands run against the live process.
extension ClientHandler {
    /// Authentication succeeded for database `pgstash`: admin users get the console.
    func adminAuthenticated() {
        guard config.admin.users.contains(user) else {
            return fatal(AdminSQLState.invalidAuthorization,
                         "user \"\(user)\" may not use the admin console: only [admin] users may connect to database \"\(AdminConsole.databaseName)\"",
                         hint: "Add the user to users in the [admin] section of proxy.conf, or connect to an application database.")
        }
        if let t = startupTimer { server.loop.cancel(t) }
        let bare = server.admin.version.split(separator: " ").last.map(String.init) ?? server.admin.version
        var out = ByteBuffer()
        let parameters = [
            ("server_version", "\(bare)/pgstash"), ("server_encoding", "UTF8"), ("client_encoding", "UTF8"),
            ("DateStyle", "ISO"), ("integer_datetimes", "on"), ("standard_conforming_strings", "on"),
            ("application_name", startupParameters.first { $0.0 == "application_name" }?.1 ?? ""),
        ]
        for (name, value) in parameters { BackendMessage.parameterStatus(name: name, value: value).encode(into: &out) }
        BackendMessage.readyForQuery(.idle).encode(into: &out)
        conn.send(out)
        admin.session = AdminSession()
        phase = .ready
        logConnected()
        updateReading()
        if conn.inbound.readableBytes > 0 { adminInput() }
    }

    /// Runs the client's buffered messages through its console, one command at a time; stops
    /// while a command (PAUSE) waits for the proxy.
    func adminInput() {
        guard case .ready = phase, admin.session?.isRunning == false else { return }
        var out = ByteBuffer()
        defer { if out.readableBytes > 0 { conn.send(out) } }
        while true {
            let header: FrameHeader
            do {
                guard let h = try Framing.peekHeader(conn.inbound, maxBodyLength: config.listen.maxMessageSize) else { return }
                header = h
            } catch {
                return fatal(SQLState.protocolViolation, "invalid message: \(error)")
            }
            guard conn.inbound.readableBytes >= header.frameLength else { return }
            guard let id = FrontendMessageID(rawValue: header.id) else {
                return fatal(SQLState.protocolViolation, "invalid frontend message type \(header.id)")
            }
            let bodyStart = conn.inbound.readerIndex + 5
            let body = Array(conn.inbound.readableView[bodyStart..<(bodyStart + header.bodyLength)])
            conn.inbound.moveReaderIndex(forwardBy: header.frameLength)
            let step = admin.session!.messageReceived(id, body: body[...], out: &out)
            guard follow(step, out: &out) else { return }
        }
    }

    /// Does what the console asked until it waits for input; false when input must stop
    /// (a command is still running, or the client is gone).
    private func follow(_ first: AdminSession.Step, out: inout ByteBuffer) -> Bool {
        var step = first
        while true {
            switch step {
            case .wait:
                return true
            case .terminate:
                conn.send(out)
                out.clear()
                close(error: nil)
                return false
            case .fatal(let e):
                conn.send(out)
                out.clear()
                fatal(e.sqlState, e.message)
                return false
            case .execute(let command):
                guard let outcome = execute(command) else { return false }
                guard case .ready = phase, admin.session != nil else { return false }
                step = admin.session!.commandFinished(outcome, out: &out)
            }
        }
    }

    /// Runs one command: its outcome, or nil when it finishes later (PAUSE).
    private func execute(_ command: AdminCommand) -> AdminOutcome? {
        log.info("admin command", ["client": id.description, "user": user, "command": "\(command)"])
        var snapshot = server.adminSnapshot()
        if command == .show(.queries) || command == .show(.cacheAdvice) { snapshot.queries = server.admin.digests?.sortedByTotalTime() }
        switch AdminConsole.run(command, snapshot) {
        case .outcome(let o):
            return o
        case .perform(.reload):
            return server.reloadFromAdmin().map { .error($0) } ?? .done(tag: command.tag)
        case .perform(.shutdown):
            // Answered first; the shutdown then ends this client too (57P01), as others.
            _ = server.loop.schedule(after: 0) { [weakRef = server.weakRef] in weakRef.target?.shutdown(graceful: true) }
            return .done(tag: command.tag)
        case .perform(.kill(let db)):
            server.killDatabase(db)
            return .done(tag: command.tag)
        case .perform(.resume(let db)):
            server.resumeDatabase(db)
            return .done(tag: command.tag)
        case .perform(.pause(let db)):
            server.pauseDatabase(db)
            if server.isPauseSettled(db) { return .done(tag: command.tag) }
            pollPause(db)
            return nil
        case .perform(.explainCache(let db, let sql)):
            return server.explainCache(database: db, sql: sql, user: user)
        case .perform(.cacheAdvice):
            return server.cacheAdvice(snapshot.queries ?? [], user: user)
        case .perform(.invalidate(let target, let db)):
            var answered: AdminOutcome?
            var running = true
            server.invalidateFromConsole(target, database: db, user: user) { [weakRef] outcome in
                if running { answered = outcome } else { weakRef.target?.finishCommand(outcome) }
            }
            running = false
            return answered
        }
    }

    /// Answers a command that finished after `execute` returned (PAUSE, INVALIDATE), then
    /// goes on with the client's input.
    private func finishCommand(_ outcome: AdminOutcome) {
        guard case .ready = phase, admin.session?.isRunning == true else { return }
        var out = ByteBuffer()
        let step = admin.session!.commandFinished(outcome, out: &out)
        if follow(step, out: &out) {
            if out.readableBytes > 0 { conn.send(out) }
            adminInput()
        } else if out.readableBytes > 0 {
            conn.send(out)
        }
    }

    /// Answers a running PAUSE once the paused pools have no server left (PgBouncer's PAUSE
    /// returns when the transactions running at the time have finished).
    private func pollPause(_ db: String?) {
        admin.pauseTimer = server.loop.schedule(after: 0.01) { [weakRef] in
            guard let self = weakRef.target, case .ready = self.phase, self.admin.session != nil else { return }
            self.admin.pauseTimer = nil
            guard self.server.isPauseSettled(db) else { return self.pollPause(db) }
            self.finishCommand(self.server.isStillPaused(db)
                ? .done(tag: "PAUSE")
                : .error(AdminError(AdminSQLState.objectNotInPrerequisiteState, "PAUSE was cancelled by a RESUME before it completed")))
        }
    }
}

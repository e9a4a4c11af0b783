import ProxyCore

/// Lets one line through per `interval` seconds and counts the ones held back, so that a
/// saturated pool logs a line every few seconds, not one per client.
struct LogThrottle {
    var interval: Double = 10
    private var last = -Double.infinity
    private var held = 0

    /// nil: stay quiet; otherwise the number of events held back since the last line.
    mutating func allow(now: Double) -> Int? {
        guard now - last >= interval else { held += 1; return nil }
        last = now
        defer { held = 0 }
        return held
    }
}

/// The events of a client's life worth a line (docs/logging.md): connected, disconnected,
/// refused at login.
extension ClientHandler {
    var peerDescription: String {
        admin.peer.port > 0 ? "\(admin.peer.address):\(admin.peer.port)" : admin.peer.address
    }

    /// Authentication succeeded and the database exists.
    func logConnected() {
        admin.loggedIn = true
        log.info("client connected", [
            "client": id.description, "addr": peerDescription, "user": user, "database": databaseName,
            "application_name": startupParameters.first { $0.0 == "application_name" }?.1 ?? "",
        ])
    }

    /// Called once when the client is gone: a disconnect, or a login that failed.
    func logClosed() {
        let reason = admin.closeReason
        if admin.loggedIn {
            let seconds = max(server.loop.now - admin.connectedMonotonic, 0)
            log.info("client disconnected", [
                "client": id.description, "addr": peerDescription, "user": user, "database": databaseName,
                "duration": String(format: "%.3f", seconds),
                "sqlstate": reason?.sqlState ?? "", "error": reason?.message ?? "",
            ])
        } else if let reason {
            log.warning("login failed", [
                "client": id.description, "addr": peerDescription, "user": user, "database": databaseName,
                "sqlstate": reason.sqlState, "error": reason.message,
            ])
        } else {
            log.debug("connection closed before login", ["client": id.description, "addr": peerDescription])
        }
    }
}

/// The two pool saturation events, throttled separately.
struct SaturationThrottles {
    var atMax = LogThrottle()
    var slowAcquire = LogThrottle()
}

/// Pool saturation: a client that had to wait past `[log] acquire_wait_threshold`, and a
/// client that found every server of the pool leased at `max_upstream` (throttled per pool).
extension PoolDriver {
    func acquireWaited(_ seconds: Double, client: ClientHandler) {
        let threshold = server.config.log.acquireWaitThreshold
        guard threshold > 0, seconds > threshold, let held = saturationLog.slowAcquire.allow(now: now) else { return }
        server.log.warning("slow server acquire: a client waited for a server", [
            "database": key.database, "user": key.user, "client": client.id.description,
            "wait": String(format: "%.3f", seconds), "waiting": "\(pool.waitingCount)",
            "servers": "\(pool.serverCount)", "max_upstream": "\(config.maxUpstream)", "similar_events_held_back": "\(held)",
        ])
    }

    /// After an acquire: the client waits, and every server the pool may open is leased.
    func noteSaturation(_ client: ClientHandler) {
        // The cap read once (each `config` is a copy of the whole PoolConfig), the throttle
        // only at the cap: this runs for every client that waits.
        let cap = pool.config.maxUpstream
        guard pool.activeCount >= cap, pool.serverCount >= cap, let held = saturationLog.atMax.allow(now: now) else { return }
        server.log.warning("pool saturated: clients wait for a server", [
            "database": key.database, "user": key.user, "waiting": "\(pool.waitingCount)",
            "servers": "\(pool.serverCount)", "max_upstream": "\(config.maxUpstream)", "similar_events_held_back": "\(held)",
        ])
    }
}

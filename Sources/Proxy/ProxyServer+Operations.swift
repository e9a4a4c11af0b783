import ProxyConfig
import ProxyCore

/// The operator-facing side of a reload: logging settings and query digests follow the new
/// configuration, and the outcome is logged.
extension ProxyServer {
    func reloadOperations(_ new: ProxyConfiguration) {
        if new.log.level != log.level || new.log.format != log.format {
            log = Logger(new.log, verbose: verboseLogging)
        }
        let on = admin.configureDigests(capacity: new.admin.queryDigests)
        for c in clients.values where c.hasSession {
            if on && c.admin.digest == nil { c.admin.digest = DigestProbe() }
            if !on { c.admin.digest = nil }
        }
        log.info("configuration reloaded", ["summary": new.summary])
    }

    /// A reload that was refused: the running configuration stays.
    public func reloadRejected(_ error: Error, source: String) {
        log.error("configuration reload rejected; the running configuration stays",
                  ["source": source, "error": "\(error)"])
    }
}

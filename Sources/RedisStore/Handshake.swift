/// What runs on every new connection before the store is ready, pipelined: `AUTH`, `SELECT`,
/// `INFO server` (for `run_id`), `SCRIPT LOAD` of each cache script; then, once the run id is
/// known, the run-id check of every key prefix (cache.md §1.4), which bumps the epoch of a
/// prefix whose `RUNID` differs.
final class Handshake {
    private weak var store: RedisStore?
    private var outstanding = 0
    private var failed = false
    private var runID: String?
    private var scripts: [String: String] = [:]
    private var epochBumped: [String] = []

    init(store: RedisStore) { self.store = store }

    func begin() {
        guard let store else { return }
        let s = store.settings
        if let password = s.password {
            send(s.user.map { ["AUTH", $0, password] } ?? ["AUTH", password]) { _ in true }
        }
        if s.database != 0 { send(["SELECT", String(s.database)]) { _ in true } }
        send(["INFO", "server"]) { [self] value in
            guard let text = value.text, let id = Self.runID(inInfo: text) else { return false }
            runID = id
            checkRunID(id)
            return true
        }
        for script in RedisScript.all {
            send(["SCRIPT", "LOAD", script.source]) { [self] value in
                guard let sha = value.text, sha.count == 40 else { return false }
                scripts[script.name] = sha
                return true
            }
        }
    }

    private func checkRunID(_ id: String) {
        for prefix in store?.settings.keyPrefixes ?? [] {
            let keys = CacheKeys(prefix: prefix)
            send(["EVAL", RedisScript.checkRunID.source, "3", keys.runID, keys.sequence, keys.epoch, id]) { [self] value in
                guard let bumped = value.integer else { return false }
                if bumped == 1 { epochBumped.append(prefix) }
                return true
            }
        }
    }

    /// Sends one step; `accept` says whether its reply is what the handshake needs.
    private func send(_ args: [String], accept: @escaping (RedisValue) -> Bool) {
        outstanding += 1
        store?.sendInternal(args) { [self] result in
            outstanding -= 1
            guard !failed else { return }
            switch result {
            case .success(let value) where accept(value):
                break
            case .success(let value):
                fail(.unexpectedReply("\(args.first ?? "") answered \(value)"))
                return
            case .failure(let error):
                fail(error)
                return
            }
            if outstanding == 0, let runID { store?.handshakeSucceeded(runID: runID, scripts: scripts, epochBumped: epochBumped) }
        }
    }

    private func fail(_ error: RedisError) {
        failed = true
        store?.handshakeFailed(error)
    }

    /// The `run_id:` line of `INFO server`.
    static func runID(inInfo text: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("run_id:") {
            return String(line.dropFirst("run_id:".count))
        }
        return nil
    }
}

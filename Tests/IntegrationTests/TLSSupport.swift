import CLibPQ
import Foundation
import Glibc

/// A throwaway PKI made with the openssl CLI at test time, in a temporary folder (no private
/// key is ever committed): a CA; `server` for 127.0.0.1 and localhost; `client` for CN
/// postgres; `upstream` for DNS localhost only (host-name checks); `other`, an unrelated CA,
/// and `stranger`, a server certificate it signed.
struct TestPKI: Sendable {
    let dir: String

    func pem(_ name: String) -> String { "\(dir)/\(name).pem" }
    func key(_ name: String) -> String { "\(dir)/\(name).key" }

    static func make(in dir: String) throws -> TestPKI {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let script = """
            set -e
            cd '\(dir)'
            ca() {
              openssl req -x509 -newkey rsa:2048 -nodes -keyout $1.key -out $1.pem -days 2 -subj "/CN=$2" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
            }
            leaf() {   # name CN issuer extensions
              openssl req -newkey rsa:2048 -nodes -keyout $1.key -out $1.csr -subj "/CN=$2"
              printf "basicConstraints=CA:FALSE\\n$4\\n" > $1.ext
              openssl x509 -req -in $1.csr -CA $3.pem -CAkey $3.key -CAcreateserial -out $1.pem -days 2 -extfile $1.ext
            }
            ca ca "pgstash test CA"
            ca other "unrelated CA"
            leaf server localhost ca "subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth"
            leaf upstream localhost ca "subjectAltName=DNS:localhost\\nextendedKeyUsage=serverAuth"
            leaf stranger localhost other "subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth"
            leaf client postgres ca "extendedKeyUsage=clientAuth"
            chmod 600 *.key
            """
        let r = try runCommand(["bash", "-c", script], timeout: 60)
        guard r.status == 0 else { throw TestFailure("openssl failed: \(r.stderr)") }
        return TestPKI(dir: dir)
    }
}

/// The one `TestPKI` of a test process, made on first use.
final class PKICache: @unchecked Sendable {
    private let lock = NSLock()
    private var pki: TestPKI?

    func get(in dir: String) throws -> TestPKI {
        lock.lock()
        defer { lock.unlock() }
        if let pki { return pki }
        let made = try TestPKI.make(in: dir)
        pki = made
        return made
    }
}

/// What a libpq connection made of a connection string and `SELECT 42`.
struct LibpqOutcome {
    var connected: Bool
    var sslInUse: Bool
    var value: String?
    var error: String
}

/// Connects with libpq (so `PQsslInUse` says whether the session is encrypted) and runs `sql`.
func libpqQuery(_ dsn: String, _ sql: String = "SELECT 42") -> LibpqOutcome {
    let conn = PQconnectdb(dsn)
    defer { PQfinish(conn) }
    guard PQstatus(conn) == CONNECTION_OK else {
        return LibpqOutcome(connected: false, sslInUse: false, value: nil,
                            error: String(cString: PQerrorMessage(conn)))
    }
    let ssl = PQsslInUse(conn) == 1
    let res = PQexec(conn, sql)
    defer { PQclear(res) }
    guard PQresultStatus(res) == PGRES_TUPLES_OK else {
        return LibpqOutcome(connected: true, sslInUse: ssl, value: nil, error: String(cString: PQerrorMessage(conn)))
    }
    return LibpqOutcome(connected: true, sslInUse: ssl, value: String(cString: PQgetvalue(res, 0, 0)), error: "")
}

/// A PostgreSQL of its own with `ssl = on` and only `hostssl` lines in pg_hba.conf, serving
/// `pki`'s `upstream` certificate (DNS localhost only) and trusting its CA for client
/// certificates. Built with scripts/pg.sh; stopped by `stop()`.
final class TLSPostgres: @unchecked Sendable {
    let base: String
    let port: Int
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts/pg.sh").path

    init(env: TestEnvironment, pki: TestPKI) throws {
        base = "\(env.tmp)/tls-pg-\(freePort())"
        port = freePort()
        try pg(["up", base, String(port)])
        try pg(["down", base])
        let data = "\(base)/data"
        for (from, to) in [(pki.pem("upstream"), "server.pem"), (pki.key("upstream"), "server.key"), (pki.pem("ca"), "ca.pem")] {
            try? FileManager.default.removeItem(atPath: "\(data)/\(to)")
            try FileManager.default.copyItem(atPath: from, toPath: "\(data)/\(to)")
        }
        let conf = try String(contentsOfFile: "\(data)/postgresql.conf", encoding: .utf8) + """

            ssl = on
            ssl_cert_file = 'server.pem'
            ssl_key_file = 'server.key'
            ssl_ca_file = 'ca.pem'
            listen_addresses = 'localhost'

            """
        try conf.write(toFile: "\(data)/postgresql.conf", atomically: true, encoding: .utf8)
        try """
            local all all scram-sha-256
            hostssl all all 127.0.0.1/32 scram-sha-256
            hostssl all all ::1/128 scram-sha-256

            """.write(toFile: "\(data)/pg_hba.conf", atomically: true, encoding: .utf8)
        if getuid() == 0 {
            try runCommand(["chown", "postgres:postgres", "\(data)/server.pem", "\(data)/server.key", "\(data)/ca.pem",
                            "\(data)/postgresql.conf", "\(data)/pg_hba.conf"])
        }
        chmod("\(data)/server.key", 0o600)
        try pg(["up", base, String(port)])
    }

    /// Runs pg.sh with its output in a file and every inherited descriptor above 2 closed:
    /// the postmaster it starts outlives it, and must not hold the test's pipes open (a read
    /// to end of file would then never end).
    private func pg(_ args: [String]) throws {
        let log = "\(base).pg.log"
        let shell = """
            for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
            exec </dev/null >>'\(log)' 2>&1
            PGPASS=secret '\(Self.script)' \(args.map { "'\($0)'" }.joined(separator: " "))
            """
        let r = try runCommand(["bash", "-c", shell], timeout: 120)
        guard r.status == 0 else {
            throw TestFailure("pg.sh \(args.joined(separator: " ")) failed: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
    }

    func stop() { try? pg(["down", base]) }

    deinit { stop() }
}

extension PgStashProcess {
    /// A libpq connection string to this pgstash with the given TLS settings (no `sslmode=disable` default).
    func tlsDSN(host: String = "127.0.0.1", user: String = "postgres", db: String = "postgres", _ ssl: String) -> String {
        "host=\(host) port=\(port) user=\(user) password=\(env.pgPassword) dbname=\(db) \(ssl)"
    }
}

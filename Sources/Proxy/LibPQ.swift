import CLibPQ
import Glibc

/// The few blocking libpq calls pgstash's background threads make (`CatalogLoader`,
/// `AuthQueryLoader`). Never call them on the event loop's thread.
enum LibPQ {
    /// Opens a connection with libpq keyword/value parameters (nil values are left out);
    /// on failure, libpq's message. The caller `PQfinish`es the connection.
    static func connect(_ parameters: [(String, String?)]) -> Result<OpaquePointer, LibPQError> {
        let conn = withCStrings(parameters.map { Optional.some($0.0) }) { k in
            withCStrings(parameters.map(\.1)) { v in PQconnectdbParams(k, v, 0) }
        }
        guard let conn else { return .failure(LibPQError(message: "libpq could not allocate a connection")) }
        guard PQstatus(conn) == CONNECTION_OK else {
            let m = message(PQerrorMessage(conn))
            PQfinish(conn)
            return .failure(LibPQError(message: m))
        }
        return .success(conn)
    }

    /// Sends `sql` and collects the rows of each result that has rows; on failure,
    /// PostgreSQL's message. Without `parameters`, one simple query (several statements
    /// allowed); with them, one statement whose `$1…` they fill (text, types inferred).
    static func query(_ sql: String, parameters: [String]? = nil, on conn: OpaquePointer) -> Result<[[[String?]]], LibPQError> {
        let sent: Int32
        if let parameters {
            sent = withCStrings(parameters) { values in
                PQsendQueryParams(conn, sql, Int32(parameters.count), nil, values, nil, nil, 0)
            }
        } else {
            sent = PQsendQuery(conn, sql)
        }
        guard sent == 1 else { return .failure(LibPQError(message: message(PQerrorMessage(conn)))) }
        var results: [[[String?]]] = []
        var failure: String?
        while let r = PQgetResult(conn) {
            defer { PQclear(r) }
            switch PQresultStatus(r) {
            case PGRES_TUPLES_OK:
                let (rows, columns) = (PQntuples(r), PQnfields(r))
                var set: [[String?]] = []
                set.reserveCapacity(Int(rows))
                for i in 0..<rows {
                    set.append((0..<columns).map { j in
                        PQgetisnull(r, i, j) == 1 ? nil : String(cString: PQgetvalue(r, i, j))
                    })
                }
                results.append(set)
            case PGRES_COMMAND_OK:
                break
            default:
                if failure == nil { failure = message(PQresultErrorMessage(r)) }
            }
        }
        if let failure { return .failure(LibPQError(message: failure)) }
        return .success(results)
    }

    static func message(_ p: UnsafePointer<CChar>?) -> String {
        guard let p else { return "unknown libpq error" }
        var s = String(cString: p)
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return s
    }

    /// Calls `body` with a NULL-terminated array of C strings (nil entries stay NULL).
    private static func withCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0)! } }
        defer { for c in copies { free(c) } }
        let pointers = copies.map { $0.map { UnsafePointer($0) } } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// libpq's or PostgreSQL's message for a failed connect or query.
struct LibPQError: Error {
    var message: String
}

/// What `[auth] auth_query` said about one user, prepared off the event loop (a plain
/// password's PBKDF2 runs on the lookup's thread), and the checks pgstash applies to it.
///
/// The query gets the user name as `$1` and returns at most one row: `usename`, `passwd`, and
/// optionally a third column, the password's expiry as Unix seconds (`extract(epoch FROM
/// valuntil)`; NULL or `Infinity`: never). pgstash refuses, with the same 28P01 as a wrong
/// password (the unknown-user exchange runs):
/// - no row (unknown or dropped role, or a role the query filters out, such as NOLOGIN);
/// - a NULL or empty `passwd` (a role without password);
/// - an expiry in the past, checked at every login, cached or not.
/// A `passwd` is an `md5…` hash, a `SCRAM-SHA-256$…` verifier, or (from a custom function)
/// a plain password.
public struct AuthQueryAnswer: Sendable, Equatable {
    /// nil: the user cannot log in (`refusal` says why).
    public var credential: StoredCredential?
    /// Unix time at which the password expires; nil: never.
    public var validUntil: Double?
    /// Why `credential` is nil, for the log (never shown to the client).
    public var refusal: String?

    public init(credential: StoredCredential?, validUntil: Double? = nil, refusal: String? = nil) {
        self.credential = credential
        self.validUntil = validUntil
        self.refusal = refusal
    }

    /// The credential a login at `wallClock` (Unix seconds) may use; nil when refused or expired.
    public func credential(at wallClock: Double) -> StoredCredential? {
        if let validUntil, wallClock >= validUntil { return nil }
        return credential
    }

    /// Why a login at `wallClock` is refused, nil when it may go on.
    public func refusal(at wallClock: Double) -> String? {
        if let refusal { return refusal }
        if let validUntil, wallClock >= validUntil { return "password expired (rolvaliduntil)" }
        return nil
    }

    /// Reads the rows the query returned for `user`. `scram`: whether `[auth] type` is
    /// scram-sha-256 (a plain password then gets SCRAM keys, by `derive`).
    public static func from(rows: [[String?]], user: String, scram: Bool,
                            derive: (String) -> ScramKeys) throws(AuthQueryError) -> AuthQueryAnswer {
        guard let row = rows.first else { return AuthQueryAnswer(credential: nil, refusal: "no such role") }
        guard rows.count == 1 else { throw .tooManyRows(rows.count) }
        guard row.count >= 2 else { throw .tooFewColumns(row.count) }
        var validUntil: Double?
        if row.count >= 3, let text = row[2] {
            guard let t = Double(text) else { throw .unreadableExpiry(text) }
            validUntil = t.isFinite ? t : (t > 0 ? nil : -Double.infinity)
        }
        guard let secret = row[1], !secret.isEmpty else {
            return AuthQueryAnswer(credential: nil, validUntil: validUntil, refusal: "role has no password")
        }
        return AuthQueryAnswer(credential: StoredCredential(secret: secret, scram: scram, derive: derive),
                               validUntil: validUntil)
    }
}

/// Why an auth_query lookup gave no answer; the client is refused (08006 when the upstream
/// could not be reached, 28000 otherwise) and nothing is cached.
public enum AuthQueryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libpq could not connect or log in as `auth_user` (its message).
    case connectionFailed(String)
    /// The query failed (PostgreSQL's message).
    case queryFailed(String)
    case tooManyRows(Int)
    case tooFewColumns(Int)
    case unreadableExpiry(String)
    /// No background thread could be started, or too many lookups are waiting.
    case overloaded(String)

    public var description: String {
        switch self {
        case .connectionFailed(let m): return "cannot connect as auth_user: \(m)"
        case .queryFailed(let m): return "auth_query failed: \(m)"
        case .tooManyRows(let n): return "auth_query returned \(n) rows; it must return at most one"
        case .tooFewColumns(let n): return "auth_query returned \(n) column(s); it must return usename, passwd[, valid-until as Unix seconds]"
        case .unreadableExpiry(let t): return "auth_query's third column \"\(t)\" is not a number of Unix seconds"
        case .overloaded(let m): return m
        }
    }

    /// The SQLSTATE the waiting clients are refused with: 08006 when PostgreSQL could not be
    /// reached (as for a pool that cannot connect), 28000 when it answered something unusable.
    public var sqlState: String {
        switch self {
        case .connectionFailed, .overloaded: return SQLState.connectionFailure
        case .queryFailed, .tooManyRows, .tooFewColumns, .unreadableExpiry: return SQLState.invalidAuthorizationSpecification
        }
    }
}

/// What the policy needs to know about the client session a query comes from.
public struct SessionContext: Sendable, Equatable {
    public var database: String
    /// The role the query runs as (`current_user` after `SET ROLE`, else the login user).
    public var role: String
    /// Current values of the result-affecting settings, by lower-case name (at least
    /// `CacheKey.resultSettings`, as ParameterStatus reported them or the proxy tracked them).
    public var settings: [String: String]
    /// The session has created temporary tables: an unqualified name may then mean one of them,
    /// which no catalog snapshot holds.
    public var hasTemporaryTables: Bool

    public init(database: String, role: String, settings: [String: String] = [:], hasTemporaryTables: Bool = false) {
        self.database = database
        self.role = role
        self.settings = settings
        self.hasTemporaryTables = hasTemporaryTables
    }

    /// The session's `search_path` (PostgreSQL's default when not reported).
    public var searchPath: SearchPath {
        SearchPath(settings["search_path"] ?? SearchPath.defaultValue, role: role)
    }
}

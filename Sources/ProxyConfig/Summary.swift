extension ProxyConfiguration {
    /// One line for `pgstash check` and logs: "2 databases, 3 users (others by auth_query as
    /// pgstash), pool mode transaction, max_upstream 20, cache disabled".
    public var summary: String {
        func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
        let cacheState = cache.enabled ? "cache enabled with \(count(cache.rules.count, "rule"))" : "cache disabled"
        return [
            count(databases.count, "database"),
            count(auth.users.count, "user") + (auth.authUser.map { " (others by auth_query as \($0))" } ?? ""),
            "pool mode \(pool.mode.rawValue)", "max_upstream \(pool.maxUpstream)", cacheState,
        ].joined(separator: ", ")
    }
}

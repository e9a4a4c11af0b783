extension ConfigMapper {
    /// Checks that span keys or sections, and reads the auth file.
    mutating func validate(_ config: inout ProxyConfiguration) {
        if config.databases.isEmpty {
            report(nil, key: "databases",
                "no databases defined; add a [databases.NAME] section with the upstream host, port and dbname")
        }
        checkMinIdle(config)
        loadUsers(&config.auth)
        if let db = config.auth.authDbname, config.databases[db] == nil {
            report(origins["auth.auth_dbname"], key: "auth.auth_dbname",
                "auth.auth_dbname \"\(db)\" names no [databases] entry; known: "
                    + config.databases.keys.sorted().joined(separator: ", "))
        }
        if config.auth.type != .trust, config.auth.users.isEmpty, config.auth.authFile == nil,
            config.auth.authUser == nil
        {
            report(origins["auth.type"], key: "auth.auth_file",
                "auth.type is \"\(config.auth.type.rawValue)\" but no users are defined; "
                    + "set auth.auth_file or auth.auth_user (auth_query), or auth.type = \"trust\"")
        }
        if config.metrics.enabled, config.metrics.port == config.listen.port,
            config.metrics.host == config.listen.host
        {
            report(origins["metrics.port"] ?? origins["listen.port"], key: "metrics.port",
                "metrics.port \(config.metrics.port) is also listen.port; give the metrics listener its own port")
        }
    }

    /// `min_idle` must not exceed `max_upstream` in `[pool]` and in every override that sets one.
    private mutating func checkMinIdle(_ config: ProxyConfiguration) {
        let base = config.pool
        if base.minIdle > base.maxUpstream {
            reportMinIdle(path: "pool", base)
        }
        var contexts: [PoolConfig] = [base]
        for name in config.databases.keys.sorted() {
            let overrides = config.databases[name]!.pool
            var effective = base
            effective.apply(overrides)
            contexts.append(effective)
            if overrides.minIdle != nil || overrides.maxUpstream != nil, effective.minIdle > effective.maxUpstream {
                reportMinIdle(path: Self.join("databases", name), effective)
            }
        }
        for user in base.users.keys.sorted() {
            let overrides = base.users[user]!
            guard overrides.minIdle != nil || overrides.maxUpstream != nil else { continue }
            for var effective in contexts {
                effective.apply(overrides)
                if effective.minIdle > effective.maxUpstream {
                    reportMinIdle(path: Self.join("pool.users", user), effective)
                    break
                }
            }
        }
    }

    private mutating func reportMinIdle(path: String, _ effective: PoolConfig) {
        let key = Self.join(path, "min_idle")
        let origin = origins[key] ?? origins[Self.join(path, "max_upstream")]
        report(origin, key: key,
            "\(key) (\(effective.minIdle)) must not exceed max_upstream (\(effective.maxUpstream))")
    }

    /// Fills `auth.users` from the initial users and the auth file.
    private mutating func loadUsers(_ auth: inout AuthConfig) {
        var users = initialUsers
        if let file = auth.authFile {
            let path = FileReader.resolve(file, against: baseDirectory)
            switch FileReader.read(path) {
            case .failure(let failure):
                report(origins["auth.auth_file"], key: "auth.auth_file",
                    "auth.auth_file: cannot read \(path): \(failure.reason)")
            case .success(let text):
                let (entries, fileErrors) = AuthFile.parseCollecting(text: text, fileName: path)
                errors += fileErrors
                if entries.isEmpty, fileErrors.isEmpty, auth.type != .trust {
                    report(origins["auth.auth_file"], key: "auth.auth_file",
                        "auth.auth_file: \(path) defines no users, so no client can log in")
                }
                for entry in entries {
                    if auth.type == .scramSHA256, AuthSecretKind(secret: entry.secret) == .md5 {
                        errors.append(ConfigError(
                            file: path, line: entry.line, key: "auth.auth_file",
                            message: "user \"\(entry.user)\" has an md5 hash, which cannot verify scram-sha-256 "
                                + "logins; store the plain password or a SCRAM-SHA-256 verifier, "
                                + "or set auth.type = \"md5\""))
                    }
                    users[entry.user] = entry.secret
                }
            }
        }
        auth.users = users
    }
}

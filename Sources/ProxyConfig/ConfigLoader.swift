/// Loads `proxy.conf` (or the no-file `--upstream` mode) into a validated
/// `ProxyConfiguration`. Every function throws `ConfigErrors` holding all the errors found,
/// each naming its file and line, or `command line`.
public enum ConfigLoader {
    /// Reads and validates the file at `path`, then applies `--listen` and the `-c` overrides.
    /// A relative `auth_file` is read from the folder of `path`.
    public static func load(
        path: String, overrides: [String] = [], listen: String? = nil
    ) throws(ConfigErrors) -> ProxyConfiguration {
        switch FileReader.read(path) {
        case .failure(let failure):
            throw ConfigErrors([ConfigError(file: path, line: nil, message: "cannot read: \(failure.reason)")])
        case .success(let text):
            return try parse(
                text: text, fileName: path, baseDirectory: FileReader.directory(of: path),
                overrides: overrides, listen: listen)
        }
    }

    /// Validates `text` as if read from `fileName`; a relative `auth_file` is read from
    /// `baseDirectory` ("" or "." for the current folder).
    public static func parse(
        text: String, fileName: String, baseDirectory: String, overrides: [String] = [], listen: String? = nil
    ) throws(ConfigErrors) -> ProxyConfiguration {
        var document: TOMLTable
        do {
            document = try TOMLParser.parse(text)
        } catch {
            throw ConfigErrors([ConfigError(file: fileName, line: error.line, message: error.message)])
        }
        let mapper = ConfigMapper(fileName: fileName, baseDirectory: baseDirectory)
        return try finish(&document, mapper: mapper, overrides: overrides, listen: listen)
    }

    /// No-file mode: one database named after the URL's database, reached as the URL's user,
    /// whom clients log in as with the same password; every other setting at its default,
    /// then `--listen` (default 127.0.0.1:6432) and the `-c` overrides. Without a password
    /// in the URL, `auth.type` is `trust`.
    public static func fromUpstream(
        url: String, listen: String?, overrides: [String] = []
    ) throws(ConfigErrors) -> ProxyConfiguration {
        let upstream: UpstreamURL
        switch UpstreamURL.parse(url) {
        case .failure(let failure):
            throw ConfigErrors([ConfigError(
                file: ConfigError.commandLine, line: nil, key: "upstream", message: "--upstream: \(failure.message)")])
        case .success(let parsed):
            upstream = parsed
        }
        let origin = ValueOrigin.commandLine(option: "--upstream", raw: "")
        var database = TOMLTable()
        database["host"] = TOMLValue(.string(upstream.host), origin: origin)
        database["port"] = TOMLValue(.integer(upstream.port), origin: origin)
        database["dbname"] = TOMLValue(.string(upstream.database), origin: origin)
        database["user"] = TOMLValue(.string(upstream.user), origin: origin)
        for (key, value) in upstream.sslParameters { database[key] = TOMLValue(.string(value), origin: origin) }
        var document = TOMLTable()
        if let password = upstream.password {
            database["password"] = TOMLValue(.string(password), origin: origin)
        } else {
            var auth = TOMLTable()
            auth["type"] = TOMLValue(.string(AuthType.trust.rawValue), origin: origin)
            document["auth"] = TOMLValue(.table(auth), origin: origin)
        }
        var databases = TOMLTable()
        databases[upstream.database] = TOMLValue(.table(database), origin: origin)
        document["databases"] = TOMLValue(.table(databases), origin: origin)
        var mapper = ConfigMapper(fileName: ConfigError.commandLine, baseDirectory: "")
        if let password = upstream.password { mapper.initialUsers = [upstream.user: password] }
        return try finish(&document, mapper: mapper, overrides: overrides, listen: listen)
    }

    /// `--listen`, then `-c`, then mapping; throws everything found.
    private static func finish(
        _ document: inout TOMLTable, mapper: ConfigMapper, overrides: [String], listen: String?
    ) throws(ConfigErrors) -> ProxyConfiguration {
        var errors: [ConfigError] = []
        if let listen { errors += CommandLineOverrides.applyListen(listen, to: &document) }
        errors += CommandLineOverrides.apply(overrides, to: &document)
        var mapper = mapper
        let config = mapper.map(document)
        errors = ordered(mapper.errors + errors, mainFile: mapper.fileName)
        if !errors.isEmpty { throw ConfigErrors(errors) }
        return config
    }

    /// The main file's errors by line, then other files' (the auth file), then the command line.
    private static func ordered(_ errors: [ConfigError], mainFile: String) -> [ConfigError] {
        func group(_ e: ConfigError) -> Int {
            e.file == ConfigError.commandLine ? 2 : e.file == mainFile ? 0 : 1
        }
        return errors.enumerated().sorted { a, b in
            let ka = (group(a.element), a.element.line ?? Int.max, a.offset)
            let kb = (group(b.element), b.element.line ?? Int.max, b.offset)
            return ka < kb
        }.map(\.element)
    }
}

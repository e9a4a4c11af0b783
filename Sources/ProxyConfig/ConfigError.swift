/// One problem in the configuration: where it is (file and line, or `command line`), which
/// key it concerns, and what is wrong.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the error is in (as given to the loader, or the auth file), or `command line`.
    public var file: String
    /// 1-based line in `file`; nil for errors about the file as a whole or the command line.
    public var line: Int?
    /// Dotted key such as `pool.max_upstream` or `databases.app.port`, when one is concerned.
    public var key: String?
    public var message: String

    public init(file: String, line: Int?, key: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    /// The `file` of errors in `-c`, `--listen` and `--upstream` options.
    public static let commandLine = "command line"

    /// `file:line: message`, or `file: message` without a line.
    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}

/// Every error found in one load: the loader reports all of them, not only the first.
public struct ConfigErrors: Error, Sendable, Equatable, CustomStringConvertible {
    public var errors: [ConfigError]

    public init(_ errors: [ConfigError]) {
        self.errors = errors
    }

    /// One `file:line: message` per line.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}

import Glibc
import Logging
import ProxyConfig

/// pgstash's logging façade: one line per event on standard error, through swift-log with
/// our own `LogLineHandler` (text, logfmt or JSON, `[log] format`). Call sites pass a message
/// and, for events a machine should read, fields: `log.info("client connected", ["user": u])`
/// (a field with an empty value is left out).
/// The level is checked here first, so a disabled `debug` costs one comparison.
public struct Logger: Sendable {
    public typealias Level = LogLevel
    public typealias Fields = KeyValuePairs<String, String>

    public let level: Level
    public let format: LogFormat
    private let backend: Logging.Logger

    public init(level: Level = .info, format: LogFormat = .text) {
        self.level = level
        self.format = format
        var backend = Logging.Logger(label: "pgstash") { _ in LogLineHandler(format: format) }
        backend.logLevel = level.swiftLogLevel
        self.backend = backend
    }

    /// The `[log]` settings of `config`; `verbose` (the `--verbose` flag) lowers the level to debug.
    public init(_ config: LogConfig, verbose: Bool = false) {
        self.init(level: verbose ? .debug : config.level, format: config.format)
    }

    // The level test is inlined at the call site: a disabled `debug` on the relay path (a
    // lease, a release) builds no closure contexts and makes no call.
    @inline(__always) public func debug(_ m: @autoclosure () -> String, _ fields: @autoclosure () -> Fields = [:]) {
        if level == .debug { emit(.debug, m, fields) }
    }
    @inline(__always) public func info(_ m: @autoclosure () -> String, _ fields: @autoclosure () -> Fields = [:]) {
        if level == .debug || level == .info { emit(.info, m, fields) }
    }
    public func warning(_ m: @autoclosure () -> String, _ fields: @autoclosure () -> Fields = [:]) { emit(.warning, m, fields) }
    public func error(_ m: @autoclosure () -> String, _ fields: @autoclosure () -> Fields = [:]) { emit(.error, m, fields) }

    public func isEnabled(_ l: Level) -> Bool { l >= level }

    private func emit(_ l: Level, _ m: () -> String, _ fields: () -> Fields) {
        guard l >= level else { return }
        let f = fields()
        // swift-log's metadata is a dictionary: the order of the fields rides along in a
        // reserved key, so that lines read the same every time.
        var metadata: Logging.Logger.Metadata = [:]
        var order: [Logging.Logger.MetadataValue] = []
        for (k, v) in f where !v.isEmpty {
            if metadata[k] == nil { order.append(.string(k)) }
            metadata[k] = .string(v)
        }
        if order.count > 1 { metadata[LogLineHandler.orderKey] = .array(order) }
        backend.log(level: l.swiftLogLevel, "\(m())", metadata: metadata.isEmpty ? nil : metadata)
    }
}

extension LogLevel {
    var swiftLogLevel: Logging.Logger.Level {
        switch self {
        case .debug: return .debug
        case .info: return .info
        case .warning: return .warning
        case .error: return .error
        }
    }
}

/// Writes swift-log events to standard error, one `write(2)` per line (lines from one
/// process do not interleave). Usable as the process's `LoggingSystem` handler too.
public struct LogLineHandler: LogHandler {
    /// Carries the order of the fields (see `Logger.emit`); not printed.
    static let orderKey = "_order"
    public let format: LogFormat
    public var metadata: Logging.Logger.Metadata = [:]
    public var logLevel: Logging.Logger.Level = .info

    public init(format: LogFormat) { self.format = format }

    public subscript(metadataKey key: String) -> Logging.Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let m = event.metadata { all.merge(m) { _, new in new } }
        let line = LogLine.format(format, time: wallClock(), level: Self.name(event.level),
                                  message: event.message.description, fields: Self.ordered(all))
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    /// Fields in the order the call site gave, then any others by name.
    static func ordered(_ m: Logging.Logger.Metadata) -> [(String, String)] {
        var keys: [String] = []
        if case .array(let order)? = m[orderKey] {
            for case .string(let k) in order where m[k] != nil { keys.append(k) }
        }
        for k in m.keys.sorted() where k != orderKey && !keys.contains(k) { keys.append(k) }
        return keys.map { ($0, m[$0]!.description) }
    }

    static func name(_ l: Logging.Logger.Level) -> String {
        switch l {
        case .trace, .debug: return "debug"
        case .info, .notice: return "info"
        case .warning: return "warning"
        case .error, .critical: return "error"
        }
    }
}

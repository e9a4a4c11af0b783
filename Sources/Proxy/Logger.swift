import Glibc

/// Minimal leveled logging to standard error, one line per event.
public struct Logger: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }
    public var level: Level

    public init(level: Level = .info) { self.level = level }

    public func debug(_ m: @autoclosure () -> String) { emit(.debug, m) }
    public func info(_ m: @autoclosure () -> String) { emit(.info, m) }
    public func warning(_ m: @autoclosure () -> String) { emit(.warning, m) }
    public func error(_ m: @autoclosure () -> String) { emit(.error, m) }

    private func emit(_ l: Level, _ m: () -> String) {
        guard l >= level else { return }
        let line = "pgstash \(l): \(m())\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}

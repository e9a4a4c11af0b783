import CHiredis

/// A Redis reply, copied out of hiredis's reply object (which hiredis frees when the callback returns).
public enum RedisValue: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisValue])
    case null
    /// An error reply (`ERR …`, `NOSCRIPT …`, `LOADING …`); it completes a command with
    /// `RedisError.reply`, never as a value.
    case error(String)

    init(_ reply: UnsafePointer<redisReply>) {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            self = .string(r.str.map { Array(UnsafeRawBufferPointer(start: $0, count: r.len)) } ?? [])
        case REDIS_REPLY_STATUS:
            self = .status(Self.text(r))
        case REDIS_REPLY_ERROR:
            self = .error(Self.text(r))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(r.integer))
        case REDIS_REPLY_ARRAY:
            var items: [RedisValue] = []
            items.reserveCapacity(r.elements)
            for i in 0..<r.elements {
                if let e = r.element[i] { items.append(RedisValue(e)) } else { items.append(.null) }
            }
            self = .array(items)
        default:
            self = .null
        }
    }

    private static func text(_ r: redisReply) -> String {
        guard let str = r.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: str, count: r.len), as: UTF8.self)
    }

    /// A bulk string or status as text.
    public var text: String? {
        switch self {
        case .string(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let s): return s
        default: return nil
        }
    }

    /// An integer reply, or a bulk string holding a decimal integer.
    public var integer: Int64? {
        switch self {
        case .integer(let v): return v
        case .string(let bytes): return Int64(String(decoding: bytes, as: UTF8.self))
        default: return nil
        }
    }
}

/// Why a Redis command did not produce a value. Every command's completion runs exactly
/// once, with a value or one of these; none waits past `command_timeout`.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection is up (connecting, reconnecting after a failure, or stopped).
    case notConnected
    /// The circuit breaker is open: too many recent failures; Redis is not contacted.
    case breakerOpen
    /// No reply within `command_timeout`.
    case timeout
    /// The connection failed or closed with the command outstanding.
    case connectionLost(String)
    /// Redis answered with an error reply.
    case reply(String)
    /// A reply of an unexpected shape for a typed call.
    case unexpectedReply(String)
    /// `stop()` was called.
    case stopped

    public var description: String {
        switch self {
        case .notConnected: return "not connected to Redis"
        case .breakerOpen: return "circuit breaker open"
        case .timeout: return "Redis command timed out"
        case .connectionLost(let why): return "Redis connection lost: \(why)"
        case .reply(let message): return "Redis error: \(message)"
        case .unexpectedReply(let what): return "unexpected Redis reply: \(what)"
        case .stopped: return "Redis store stopped"
        }
    }

    /// Errors that say Redis is unavailable or overloaded, which the breaker counts; an error
    /// reply about the command itself (`ERR`, `WRONGTYPE`, `NOSCRIPT`) does not.
    var countsAsFailure: Bool {
        switch self {
        case .timeout, .connectionLost: return true
        case .reply(let message):
            return ["LOADING", "BUSY", "OOM", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN"]
                .contains { message.hasPrefix($0) }
        case .notConnected, .breakerOpen, .unexpectedReply, .stopped: return false
        }
    }
}

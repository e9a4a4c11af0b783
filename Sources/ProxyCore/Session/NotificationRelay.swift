/// Who listens on which channel, for one pool's listener connection (LISTEN/NOTIFY relayed
/// under transaction pooling). A pure registry: the listener connection LISTENs upstream on
/// every channel someone listens on, and hands each NotificationResponse to `recipients`.
public struct NotificationRelay: Sendable {
    private var listeners: [String: Set<Int>] = [:]
    private var byClient: [Int: Set<String>] = [:]

    public init() {}

    /// Channels someone listens on: what the listener connection must LISTEN on.
    public var channels: Set<String> { Set(listeners.keys) }

    public var isEmpty: Bool { listeners.isEmpty }

    /// The client's LISTEN committed.
    public mutating func listen(client: Int, channel: String) {
        listeners[channel, default: []].insert(client)
        byClient[client, default: []].insert(channel)
    }

    /// The client's UNLISTEN committed (nil: `UNLISTEN *`), or it disconnected.
    public mutating func unlisten(client: Int, channel: String?) {
        let gone = channel.map { [$0] } ?? Array(byClient[client] ?? [])
        for ch in gone {
            listeners[ch]?.remove(client)
            if listeners[ch]?.isEmpty == true { listeners[ch] = nil }
            byClient[client]?.remove(ch)
        }
        if byClient[client]?.isEmpty == true { byClient[client] = nil }
    }

    /// The clients a notification on `channel` goes to.
    public func recipients(of channel: String) -> Set<Int> { listeners[channel] ?? [] }

    /// Every client that listens on something.
    public var clients: [Int] { Array(byClient.keys) }

    /// What the listener connection must send to go from listening on `current` to `channels`.
    public func statements(from current: Set<String>) -> [String] {
        let want = channels
        return want.subtracting(current).sorted().map { "LISTEN \(Self.quote($0))" }
            + current.subtracting(want).sorted().map { "UNLISTEN \(Self.quote($0))" }
    }

    static func quote(_ channel: String) -> String {
        "\"" + channel.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

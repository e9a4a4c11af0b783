import Glibc
import PostgresWire
import SQLAnalysis

/// Where a session writes: bytes for its server and bytes for its client, in order.
/// Empty until used, so an idle client costs no buffer space.
public struct SessionOutput {
    public var toServer = ByteBuffer()
    public var toClient = ByteBuffer()
    /// Something worth a log line happened (a pin, a refusal).
    public var events: [String] = []
    /// The client became pinned (its pool counts pinned servers against `max_pinned`).
    public var pinChanged = false
    public init() {}

    /// Empties both buffers; a buffer grown past `keep` bytes gives its memory back.
    public mutating func reset(keep: Int = 32 * 1024) {
        resetToServer(keep: keep)
        Self.reset(&toClient, keep: keep)
    }

    /// `reset` for `toServer` alone (what is due to the client stays).
    public mutating func resetToServer(keep: Int = 32 * 1024) { Self.reset(&toServer, keep: keep) }

    /// A buffer nothing was written to since its last reset cannot have grown: its storage
    /// (often not in the CPU's cache) is not looked at.
    private static func reset(_ b: inout ByteBuffer, keep: Int) {
        if b.writerIndex == 0 { return }
        if b.capacity > keep { b = ByteBuffer() } else { b.clear() }
    }
}

/// A statement the client prepared under a name, and its name on servers.
public struct ClientStatement: Sendable {
    public var key: StatementKey
    public var serverName: String
}

/// Everything one logged-in client is, as far as the protocol goes: its statements and
/// portals, session settings, transaction state, skip-to-Sync, pinning, and the lease
/// lifecycle ("wants a server → leased → released only at ReadyForQuery 'I' with nothing
/// outstanding, never after a Flush"). A pure machine: frontend and backend messages in,
/// bytes and decisions out; the connection handlers only decode frames, call it, and run
/// what it says. Under transaction pooling it owns the renaming of prepared statements to
/// the shared server names, the client's unnamed statement across servers, and the session
/// effects that follow the client from server to server.
public struct ClientSession {
    public struct Configuration: Sendable {
        public var transactionPooling: Bool
        public var pinOnSessionState: Bool
        /// `database/user`, for messages.
        public var poolName: String
        /// LISTEN is relayed by the pool's listener connection (transaction pooling with
        /// `max_listeners` ≥ 1); otherwise it is session state like a temporary table.
        public var listenRelay: Bool
        /// The pool may pin one more server (`max_pinned` not reached); kept current by the
        /// driver.
        public var pinningAvailable = true
        public init(transactionPooling: Bool, pinOnSessionState: Bool, poolName: String, listenRelay: Bool = false) {
            self.transactionPooling = transactionPooling
            self.pinOnSessionState = pinOnSessionState
            self.poolName = poolName
            self.listenRelay = listenRelay && transactionPooling
        }
    }

    /// What the handler does after a frontend message.
    public enum InputResult: Equatable {
        /// Handled; go on with the next message.
        case consumed
        /// The message needs a server: lease one (stop reading meanwhile), then offer the
        /// same message again.
        case needServer
        /// The message must wait (the new server's settings are being restored): stop, and
        /// offer it again when a backend message says `resumeClient`.
        case wait
        /// The client sent Terminate.
        case terminate
        /// A protocol violation: send this FATAL error and close.
        case fail(sqlState: String, message: String)
    }

    public let clientID: Int
    public var configuration: Configuration
    /// Settings and SQL-prepared statements, following the client.
    public internal(set) var session: SessionTracker
    /// Named protocol-level statements of the client.
    public internal(set) var statements: [String: ClientStatement] = [:]
    /// The client's unnamed statement, until its next Parse "" or Query: its Parse frame as
    /// sent to a server, to send again where another server holds someone else's.
    var unnamed: (parse: [UInt8], generation: UInt64)?
    var unnamedGeneration: UInt64 = 0
    /// Session effects of the client's statements that have one (extended protocol), and of
    /// the portals bound to them: an Execute applies its portal's effect.
    var statementEffects: [String: SessionEffect] = [:]
    var portalEffects: [String: SessionEffect] = [:]
    /// Dropping the client's messages up to Sync after an error pgstash raised itself.
    public internal(set) var skippingToSync = false
    /// What keeps the client on its server (session objects with pin_on_session_state).
    public internal(set) var pins = SessionPins()
    /// Kept on its server until it releases what pins it, or disconnects.
    public var pinned: Bool { !pins.isEmpty }
    /// Pins added in the current transaction: taken back if it does not commit.
    var provisionalPins = SessionPins()
    /// Channels the client listens on (committed LISTENs), relayed by the pool's listener.
    public internal(set) var listening: Set<String> = []
    /// The settings replay on the leased server has not answered yet.
    public internal(set) var awaitingReplay = false
    /// Analyses SQL texts (an LRU in the proxy; any function in tests).
    let analyze: (String) -> [StatementAnalysis]
    /// The last text the lexical gate read, and its answer: clients repeat their queries (often
    /// with other literals), and comparing bytes is cheaper than scanning them again.
    var gateMemo: (text: [UInt8], hasDollar: Bool, mayChange: Bool) = ([], false, false)
    /// The last unnamed Parse frame (up to 4 KiB) whose query the gate let through: the same
    /// frame again skips the gate and shares these bytes as the unnamed statement's.
    var plainUnnamedParse: [UInt8] = []

    public init(clientID: Int, configuration: Configuration, settings: SessionSettings,
                analyze: @escaping (String) -> [StatementAnalysis]) {
        self.clientID = clientID
        self.configuration = configuration
        self.session = SessionTracker(settings: settings)
        self.analyze = analyze
    }

    var transactionPooling: Bool { configuration.transactionPooling }

    /// `SessionGate.mayChangeSession`, remembering the last text (up to 4 KiB) and its answer,
    /// which also holds for a text that differs from it only in digits (`SessionGate.sameAnswer`).
    mutating func mayChangeSession(_ sql: ArraySlice<UInt8>) -> Bool {
        sql.withUnsafeBytes { mayChangeSession($0) }
    }

    mutating func mayChangeSession(_ sql: UnsafeRawBufferPointer) -> Bool {
        let same = gateMemo.text.count == sql.count && gateMemo.text.withUnsafeBytes { memo in
            SessionGate.sameAnswer(memo, aHasDollar: gateMemo.hasDollar, sql)
        }
        if same { return gateMemo.mayChange }
        let answer = SessionGate.mayChangeSession(sql)
        if sql.count <= 4096 {
            gateMemo.text.removeAll(keepingCapacity: true)      // no allocation per new text
            gateMemo.text.append(contentsOf: sql)
            gateMemo.hasDollar = sql.count > 0 && memchr(sql.baseAddress!, 0x24, sql.count) != nil
            gateMemo.mayChange = answer
        }
        return answer
    }

    /// Index of the first NUL in `s` at or after `from`, found with memchr: protocol strings
    /// end with one, and a query text may be long (a generic `firstIndex` takes several
    /// instructions a byte).
    static func nul(in s: ArraySlice<UInt8>, from: Int) -> Int? {
        guard from >= s.startIndex, from < s.endIndex else { return nil }
        return s.withUnsafeBytes { raw -> Int? in
            let skip = from - s.startIndex
            guard let hit = memchr(raw.baseAddress! + skip, 0, raw.count - skip) else { return nil }
            return s.startIndex + raw.baseAddress!.distance(to: UnsafeRawPointer(hit))
        }
    }

    /// `nul(in:from:)` for raw bytes (indices from 0).
    static func nul(in s: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard from >= 0, from < s.count else { return nil }
        guard let hit = memchr(s.baseAddress! + from, 0, s.count - from) else { return nil }
        return s.baseAddress!.distance(to: UnsafeRawPointer(hit))
    }

    /// Whether `a` and `b` hold the same bytes.
    static func bytesEqual(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { pa in pa.count == 0 || memcmp(pa.baseAddress!, b.baseAddress!, pa.count) == 0 }
    }

    // MARK: Leasing

    /// A server was leased to the client: bring its settings to the client's, ahead of the
    /// client's own messages (their answers are not relayed).
    public mutating func serverAttached(_ server: inout ServerConnection, out: inout SessionOutput) {
        var sql = server.settings == session.settings ? nil : session.settings.statements(from: server.settings)
        if server.listening {
            // A client LISTENed here (relayed by the pool's listener): the server stops.
            sql = "UNLISTEN *" + (sql.map { "; " + $0 } ?? "")
            server.listening = false
        }
        guard let sql else { return }
        FrontendMessage.query(sql).encode(into: &out.toServer)
        server.tracker.requestSent(.query, forward: false, ref: nil, effects: [.settingsReplay])
        server.unnamedOwner = nil
        server.settings.adopt(session.settings)
        awaitingReplay = true
    }

    /// Whether the lease ends now (call after relaying a ReadyForQuery, or when a cancel
    /// completed).
    public func shouldRelease(_ server: ServerConnection) -> Bool {
        transactionPooling && !pinned && server.isQuiescent
    }

    // MARK: Frontend messages without a server

    /// Whether the client's next message, of type `id` with `firstBodyByte` (0 when its body is
    /// empty), surely needs a server, so that `inputWithoutServer` would return 0: a Query, an
    /// unnamed Parse, Bind, Describe, Execute (unless skipping to Sync). The relay asks this
    /// first, on every request that finds no server leased; false means "ask
    /// `inputWithoutServer`". ClientSessionTests checks it never says true where that answers.
    @inlinable
    public func needsServer(_ id: FrontendMessageID, firstBodyByte: UInt8) -> Bool {
        switch id {
        case .query, .terminate, .password, .functionCall: return true
        case .parse: return !skippingToSync && firstBodyByte == 0
        case .bind, .describe, .execute: return !skippingToSync
        default: return false
        }
    }

    /// The client's next messages while it holds no server: answers what needs none (a bare
    /// Sync or Flush, messages skipped up to Sync, Close of its own statement, PQprepare of a
    /// statement some server already parsed). Returns the bytes consumed from `inbound`
    /// (whole frames); 0 means the next message needs a server.
    public mutating func inputWithoutServer(_ inbound: ArraySlice<UInt8>, maxMessageSize: Int,
                                            names: inout StatementNames, out: inout SessionOutput) -> Int {
        guard let h = try? Framing.peekHeader(inbound, maxBodyLength: maxMessageSize), inbound.count >= h.frameLength,
              let id = FrontendMessageID(byte: h.id) else { return 0 }
        let body = inbound[(inbound.startIndex + 5)..<(inbound.startIndex + h.frameLength)]
        switch id {
        case .sync:
            skippingToSync = false
            out.toClient.append(CannedMessage.readyForQuery(.idle))
            return h.frameLength
        case .flush:
            return h.frameLength
        case .copyData, .copyDone, .copyFail:
            // No server, so no COPY in progress: what a client sends after its COPY failed
            // is dropped, as PostgreSQL drops it.
            return h.frameLength
        case .terminate, .password, .query, .functionCall:
            return 0
        default:
            if skippingToSync { return h.frameLength }
        }
        if id == .close, transactionPooling, body.first == DescribeTarget.statement.rawValue {
            let name = String(decoding: body.dropFirst().prefix { $0 != 0 }, as: UTF8.self)
            if !name.isEmpty, session.preparedStatements[name] == nil {
                forget(name, names: &names)
                out.toClient.append(CannedMessage.closeComplete)
                return h.frameLength
            }
        }
        // Only named Parses can be answered here: an unnamed one (most queries) needs a server.
        if id == .parse, body.first != 0 { return answerKnownPrepares(inbound, maxMessageSize: maxMessageSize, names: &names, out: &out) }
        return 0
    }

    /// Outside a transaction, named Parse messages of statements some server already parsed,
    /// followed by Sync (libpq's PQprepare), are answered without leasing a server: the
    /// statement is prepared on whichever server the client's next Bind lands. A client
    /// that blocks on PQprepare (pgbench runs many clients per thread) then cannot wait for
    /// a server that its own other connections hold.
    mutating func answerKnownPrepares(_ inbound: ArraySlice<UInt8>, maxMessageSize: Int,
                                      names: inout StatementNames, out: inout SessionOutput) -> Int {
        guard transactionPooling else { return 0 }
        var offset = inbound.startIndex
        var parses: [(name: String, key: StatementKey)] = []
        while true {
            let view = inbound[offset...]
            guard let h = try? Framing.peekHeader(view, maxBodyLength: maxMessageSize), view.count >= h.frameLength else { return 0 }
            if h.id == FrontendMessageID.sync.rawValue {
                guard !parses.isEmpty else { return 0 }
                offset += h.frameLength
                break
            }
            let bodyStart = offset + 5
            // Only named Parses are answered here: an unnamed one (most queries) is not decoded.
            guard h.id == FrontendMessageID.parse.rawValue, h.bodyLength > 0, inbound[bodyStart] != 0,
                  case let .parse(name, query, types)? = try? FrontendMessage.decode(id: h.id, body: inbound[bodyStart..<(bodyStart + h.bodyLength)]),
                  !name.isEmpty, statements[name] == nil, session.preparedStatements[name] == nil,
                  !parses.contains(where: { $0.name == name }) else { return 0 }
            // Statements that may touch session state take the ordinary path (analysis,
            // effects, refusals).
            var gateBytes = query
            guard !gateBytes.withUTF8({ SessionGate.mayChangeSession(UnsafeRawBufferPointer($0)) }) else { return 0 }
            let key = StatementKey(query: query, parameterTypes: types)
            guard names.knownServerName(for: key) != nil else { return 0 }
            parses.append((name, key))
            offset += h.frameLength
        }
        for p in parses {
            statements[p.name] = ClientStatement(key: p.key, serverName: names.acquire(p.key))
            statementEffects[p.name] = nil
            out.toClient.append(CannedMessage.parseComplete)
        }
        out.toClient.append(CannedMessage.readyForQuery(.idle))
        return offset - inbound.startIndex
    }

    /// Drops the client's named protocol statement.
    mutating func forget(_ name: String, names: inout StatementNames) {
        if let st = statements.removeValue(forKey: name) { names.release(st.key) }
        statementEffects[name] = nil
    }

    /// The client is gone: its references to shared statements go.
    public mutating func clientClosed(names: inout StatementNames) {
        for st in statements.values { names.release(st.key) }
        statements.removeAll()
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes at `range` (indices of this buffer) as a buffer of their own, indexed from 0.
    @inline(__always) func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}

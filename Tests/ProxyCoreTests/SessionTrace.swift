import PostgresWire
import ProxyCore
import SQLAnalysis
import Testing

/// Drives ClientSession and ServerConnection machines the way the proxy glue does
/// (Sources/Proxy/ClientHandler+Relay.swift and ServerHandler.swift): a client's bytes go
/// through `inputWithoutServer` while it holds no server and through `messageReceived` while
/// it holds one (draining made-up answers after each message); a server's messages go
/// through `backendMessageReceived`, are relayed when told to, and the tracker is drained
/// again; a release ends the lease and the client's remaining input is read again.
///
/// What each side received is rendered as short protocol-trace lines:
/// server side `Parse pgstash_1 SELECT 1`, `Bind ""`, `Query raise 0A000` (an error pgstash
/// makes the server raise); client side `ParseComplete`, `CommandComplete SET`,
/// `ReadyForQuery I`, `ErrorResponse 26000`.
struct SessionTrace {
    var clients: [ClientSession]
    var servers: [ServerConnection]
    var names = StatementNames()
    /// client → the server it leases.
    private(set) var leases: [Int: Int] = [:]
    /// Clients whose next message needs a server (the glue asks the pool for one).
    private(set) var waiting: Set<Int> = []
    /// Servers given back to the pool, in order.
    private(set) var released: [Int] = []
    /// Log lines the machines reported.
    private(set) var events: [String] = []
    /// Results other than `.consumed` / `.needServer` (terminate, fail), per client.
    private(set) var outcomes: [Int: ClientSession.InputResult] = [:]
    private var inbound: [[UInt8]]
    private var toClient: [ByteBuffer]
    private var toServer: [ByteBuffer]
    static let maxMessageSize = 1 << 20

    init(clients: Int = 1, servers: Int = 3, transactionPooling: Bool = true, pinOnSessionState: Bool = false,
         settings: SessionSettings = SessionSettings(), maxPreparedStatements: Int = 100) {
        self.clients = (0..<clients).map { id in
            ClientSession(clientID: id,
                          configuration: .init(transactionPooling: transactionPooling, pinOnSessionState: pinOnSessionState,
                                               poolName: "shop/alice"),
                          settings: settings,
                          analyze: { SQLAnalyzer.analyze($0).statements })
        }
        // The servers start with the client's startup settings (as if the pool had logged in
        // with them), so a first lease replays nothing.
        self.servers = (0..<servers).map { _ in
            var s = ServerConnection(maxPreparedStatements: maxPreparedStatements)
            s.settings = settings
            return s
        }
        inbound = Array(repeating: [], count: clients)
        toClient = Array(repeating: ByteBuffer(), count: clients)
        toServer = Array(repeating: ByteBuffer(), count: servers)
    }

    func server(of client: Int = 0) -> Int? { leases[client] }
    func isWaiting(_ client: Int = 0) -> Bool { waiting.contains(client) }

    // MARK: Client side

    /// The client sends these messages (whole frames, encoded by PostgresWire).
    mutating func send(_ messages: FrontendMessage..., from c: Int = 0) { send(messages, from: c) }

    mutating func send(_ messages: [FrontendMessage], from c: Int = 0) {
        for m in messages { inbound[c] += m.encoded }
        pump(c)
    }

    /// The pool assigns server `s` to client `c`: the session brings the server's settings to
    /// the client's, then the client's waiting input is read again.
    mutating func lease(_ s: Int, to c: Int = 0) {
        guard leases[c] == nil, !leases.values.contains(s) else {
            Issue.record("S\(s) or C\(c) already leased")
            return
        }
        waiting.remove(c)
        leases[c] = s
        var out = SessionOutput()
        clients[c].serverAttached(&servers[s], out: &out)
        collect(out, client: c, server: s)
        pump(c)
    }

    /// Runs the client's buffered input through its session, as `relayInput` does.
    private mutating func pump(_ c: Int) {
        // A client waiting for a server is not read (the glue pauses it).
        guard leases[c] != nil || !waiting.contains(c) else { return }
        while !inbound[c].isEmpty, outcomes[c] == nil {
            let bytes = inbound[c]
            guard let h = try? Framing.peekHeader(bytes[...], maxBodyLength: Self.maxMessageSize),
                  bytes.count >= h.frameLength, let id = FrontendMessageID(rawValue: h.id) else { return }
            var out = SessionOutput()
            guard let s = leases[c] else {
                if id == .terminate { outcomes[c] = .terminate; return }
                // As the relay does: the quick test first, then the full one.
                let first = h.frameLength > 5 ? bytes[5] : 0
                let n = clients[c].needsServer(id, firstBodyByte: first) ? 0
                    : clients[c].inputWithoutServer(bytes[...], maxMessageSize: Self.maxMessageSize, names: &names, out: &out)
                collect(out, client: c, server: nil)
                if n > 0 {
                    inbound[c].removeFirst(n)
                    continue
                }
                waiting.insert(c)
                return
            }
            let result = clients[c].messageReceived(id, body: bytes[5..<h.frameLength], frame: bytes[0..<h.frameLength],
                                                    server: &servers[s], names: &names, out: &out)
            collect(out, client: c, server: s)
            switch result {
            case .consumed:
                inbound[c].removeFirst(h.frameLength)
            case .needServer, .wait:
                return
            case .terminate, .fail:
                outcomes[c] = result
                return
            }
            servers[s].tracker.drainSynthesized(into: &toClient[c])
        }
    }

    private mutating func collect(_ out: SessionOutput, client c: Int, server s: Int?) {
        if let s { toServer[s].append(out.toServer.readableView) } else if !out.toServer.isEmpty {
            Issue.record("bytes for a server while C\(c) holds none")
        }
        toClient[c].append(out.toClient.readableView)
        events += out.events
    }

    /// What client `c` received since the last look.
    mutating func clientGot(_ c: Int = 0) -> [String] {
        defer { toClient[c].clear() }
        return Self.renderBackend(Array(toClient[c].readableView))
    }

    // MARK: Server side

    /// What server `s` received since the last look.
    mutating func serverGot(_ s: Int) -> [String] {
        defer { toServer[s].clear() }
        return Self.renderFrontend(Array(toServer[s].readableView))
    }

    /// The messages server `s` received since the last look, decoded.
    mutating func serverMessages(_ s: Int) -> [FrontendMessage] {
        defer { toServer[s].clear() }
        return Self.frames(Array(toServer[s].readableView)).compactMap { try? FrontendMessage.decode(id: $0.0, body: $0.1) }
    }

    /// Server `s` answers its client with these messages; returns what that client received.
    /// A release ends the lease (messages after it would be an idle server's input).
    mutating func reply(_ s: Int, _ messages: BackendMessage...) -> [String] {
        guard let c = leases.first(where: { $0.value == s })?.key else {
            Issue.record("S\(s) is leased to no client")
            return []
        }
        for (i, m) in messages.enumerated() {
            let frame = m.encoded
            let r = clients[c].backendMessageReceived(frame[0], body: frame[5...], server: &servers[s], names: &names,
                                                      toClient: &toClient[c])
            if r.forward { toClient[c].append(frame) }
            servers[s].tracker.drainSynthesized(into: &toClient[c])
            if r.resumeClient { pump(c) }
            if let f = r.failure {
                outcomes[c] = .fail(sqlState: f.sqlState, message: f.message)
                break
            }
            if r.release {
                if i != messages.count - 1 { Issue.record("S\(s) released with \(messages.count - 1 - i) messages left") }
                releaseLease(of: c)
                break
            }
        }
        return clientGot(c)
    }

    /// The lease ends (ReadyForQuery 'I' with nothing outstanding, or a cancel completed).
    mutating func releaseLease(of c: Int) {
        guard let s = leases.removeValue(forKey: c) else { return }
        released.append(s)
        pump(c)
    }

    /// The glue's check after a CancelRequest's connection closed.
    mutating func cancelCompleted(_ s: Int) {
        servers[s].cancelsInFlight -= 1
        if let c = leases.first(where: { $0.value == s })?.key, clients[c].shouldRelease(servers[s]) {
            releaseLease(of: c)
        }
    }

    // MARK: Rendering

    static func renderFrontend(_ bytes: [UInt8]) -> [String] {
        frames(bytes).map { id, body in
            guard let m = try? FrontendMessage.decode(id: id, body: body) else { return "? \(id)" }
            switch m {
            case .query(let q): return "Query " + sql(q)
            case let .parse(name, q, types):
                return "Parse \(shown(name)) " + sql(q) + (types.isEmpty ? "" : " \(types)")
            case .bind(let b): return "Bind \(shown(b.statement))" + (b.portal.isEmpty ? "" : " portal \(b.portal)")
            case let .describe(kind, name): return "Describe \(Character(Unicode.Scalar(kind))) \(shown(name))"
            case let .close(kind, name): return "Close \(Character(Unicode.Scalar(kind))) \(shown(name))"
            case .execute(let portal, _): return portal.isEmpty ? "Execute" : "Execute \(portal)"
            case .sync: return "Sync"
            case .flush: return "Flush"
            case .terminate: return "Terminate"
            case .functionCall: return "FunctionCall"
            case .copyData: return "CopyData"
            case .copyDone: return "CopyDone"
            case .copyFail: return "CopyFail"
            case .passwordData: return "Password"
            }
        }
    }

    static func renderBackend(_ bytes: [UInt8]) -> [String] {
        frames(bytes).map { id, body in
            guard let m = try? BackendMessage.decode(id: id, body: body) else { return "? \(id)" }
            switch m {
            case .commandComplete(let tag): return "CommandComplete \(tag)"
            case .readyForQuery(let s): return "ReadyForQuery \(Character(Unicode.Scalar(s.rawValue)))"
            case .errorResponse(let f): return "ErrorResponse \(f.sqlState ?? "?")"
            case let .parameterStatus(name, value): return "ParameterStatus \(name)=\(value)"
            default:
                let n = "\(m.id)"
                return n.prefix(1).uppercased() + n.dropFirst()
            }
        }
    }

    /// An error pgstash makes the server raise is shown as `raise <SQLSTATE>`.
    static func sql(_ q: String) -> String {
        guard q.hasPrefix("DO $pgstash$"), let r = q.range(of: "ERRCODE = '") else { return q }
        return "raise " + q[r.upperBound...].prefix(5)
    }

    static func shown(_ name: String) -> String { name.isEmpty ? "\"\"" : name }

    static func frames(_ bytes: [UInt8]) -> [(UInt8, ArraySlice<UInt8>)] {
        var out: [(UInt8, ArraySlice<UInt8>)] = []
        var i = 0
        while i + 5 <= bytes.count {
            let n = Int(bytes[i + 1]) << 24 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 8 | Int(bytes[i + 4])
            out.append((bytes[i], bytes[(i + 5)..<(i + 1 + n)]))
            i += 1 + n
        }
        precondition(i == bytes.count, "trailing partial frame")
        return out
    }
}

// MARK: Frontend messages, as drivers send them

func query(_ sql: String) -> FrontendMessage { .query(sql) }
func parse(_ name: String, _ sql: String, _ types: [Int32] = []) -> FrontendMessage {
    .parse(name: name, query: sql, parameterTypes: types)
}
func bind(_ statement: String, portal: String = "", _ parameters: [[UInt8]?] = []) -> FrontendMessage {
    .bind(.init(portal: portal, statement: statement, parameterFormats: [], parameters: parameters, resultFormats: []))
}
func execute(_ portal: String = "") -> FrontendMessage { .execute(portal: portal, maxRows: 0) }
func describeStatement(_ name: String) -> FrontendMessage { .describe(kind: DescribeTarget.statement.rawValue, name: name) }
func describePortal(_ name: String = "") -> FrontendMessage { .describe(kind: DescribeTarget.portal.rawValue, name: name) }
func closeStatement(_ name: String) -> FrontendMessage { .close(kind: DescribeTarget.statement.rawValue, name: name) }

// MARK: Backend messages, as PostgreSQL sends them

func errorResponse(_ sqlState: String, _ message: String = "error") -> BackendMessage {
    .errorResponse(ErrorFields(severity: "ERROR", sqlState: sqlState, message: message))
}
func commandComplete(_ tag: String) -> BackendMessage { .commandComplete(tag: tag) }
let row = BackendMessage.dataRow([Array("1".utf8)])
let oneColumn = BackendMessage.rowDescription([
    .init(name: "?column?", tableOID: 0, columnAttribute: 0, dataTypeOID: 23, dataTypeSize: 4, typeModifier: -1, format: 0),
])
let idle = BackendMessage.readyForQuery(.idle)
let inBlock = BackendMessage.readyForQuery(.inTransaction)
let failedBlock = BackendMessage.readyForQuery(.failed)
let copyIn = BackendMessage.copyInResponse(.init(format: 0, columnFormats: [0]))

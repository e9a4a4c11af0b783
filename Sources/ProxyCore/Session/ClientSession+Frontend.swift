import PostgresWire
import SQLAnalysis

/// Frontend messages of a client that holds a server.
extension ClientSession {
    /// A whole frontend message (`frame`, its `body`) while `server` is leased to the client.
    public mutating func messageReceived(_ id: FrontendMessageID, body: ArraySlice<UInt8>, frame: ArraySlice<UInt8>,
                                         server: inout ServerConnection, names: inout StatementNames,
                                         out: inout SessionOutput) -> InputResult {
        frame.withUnsafeBytes { messageReceived(id, frame: $0, server: &server, names: &names, out: &out) }
    }

    /// `messageReceived` with the frame lent as raw bytes (the relay's read buffer): no slice,
    /// and so no reference count, per message. The body is the frame after its 5-byte header.
    public mutating func messageReceived(_ id: FrontendMessageID, frame: UnsafeRawBufferPointer,
                                         server: inout ServerConnection, names: inout StatementNames,
                                         out: inout SessionOutput) -> InputResult {
        let body = frame.bytes(5..<frame.count)
        switch id {
        case .terminate: return .terminate
        case .password: return .fail(sqlState: SQLState.protocolViolation, message: "unexpected password message after authentication")
        default: break
        }
        if awaitingReplay { return .wait }
        switch id {
        case .sync:
            skippingToSync = false
            server.unsynced = false
            server.tracker.requestSent(.sync)
            out.toServer.append(frame)
            return .consumed
        case .copyData:
            out.toServer.append(frame)
            return .consumed
        case .copyDone, .copyFail:
            server.tracker.requestSent(.copyEnd)
            out.toServer.append(frame)
            return .consumed
        default: break
        }
        // After an error pgstash raised itself, drop everything up to Sync, as the server would.
        if skippingToSync { return .consumed }
        guard transactionPooling else {
            forwardUnchanged(id, body: body, frame: frame, server: &server, out: &out)
            return .consumed
        }
        switch id {
        case .query:
            queryReceived(body, frame: frame, server: &server, names: &names, out: &out)
        case .parse:
            server.unsynced = true
            return parseReceived(body, frame: frame, server: &server, names: &names, out: &out)
        case .bind:
            server.unsynced = true
            return bindReceived(body, frame: frame, server: &server, names: &names, out: &out)
        case .describe:
            server.unsynced = true
            return describeReceived(body, frame: frame, server: &server, names: &names, out: &out)
        case .close:
            server.unsynced = true
            return closeReceived(body, frame: frame, server: &server, names: &names, out: &out)
        case .execute:
            server.unsynced = true
            if !portalEffects.isEmpty, let end = body.firstIndex(of: 0),
               let e = portalEffects[String(decoding: body[body.startIndex..<end], as: UTF8.self)] {
                server.tracker.requestSent(.execute, forward: true, ref: nil, effects: [e])
            } else {
                server.tracker.requestSent(.execute)
            }
            out.toServer.append(frame)
        case .flush:
            out.toServer.append(frame)
        case .functionCall:
            server.tracker.requestSent(.functionCall)
            out.toServer.append(frame)
        default:
            break
        }
        return .consumed
    }

    /// Session mode: the server is the client's alone; messages pass as they are.
    private mutating func forwardUnchanged(_ id: FrontendMessageID, body: UnsafeRawBufferPointer, frame: UnsafeRawBufferPointer,
                                           server: inout ServerConnection, out: inout SessionOutput) {
        switch id {
        case .query: server.tracker.requestSent(.query)
        case .parse: server.tracker.requestSent(.parse)
        case .bind: server.tracker.requestSent(.bind)
        case .describe:
            server.tracker.requestSent(body.first == DescribeTarget.statement.rawValue ? .describeStatement : .describePortal)
        case .close: server.tracker.requestSent(.close)
        case .execute: server.tracker.requestSent(.execute)
        case .functionCall: server.tracker.requestSent(.functionCall)
        default: break
        }
        if id != .query && id != .functionCall && id != .flush { server.unsynced = true }
        out.toServer.append(frame)
    }

    // MARK: Errors pgstash raises

    /// Fails the client's current request with an error raised *by the server*, so that the
    /// server aborts the transaction exactly as a failing statement would (an open block
    /// goes to 'E'; an implicit transaction rolls back at Sync), then drops the client's
    /// messages up to Sync. The error comes back in its place in the response stream.
    mutating func raiseError(_ sqlState: String, _ message: String, hint: String? = nil,
                             server: inout ServerConnection, out: inout SessionOutput) {
        inject(Self.raiseSQL(sqlState, message, hint: hint), marker: .raisedError, server: &server, out: &out)
        skippingToSync = true
    }

    /// A DO block that raises the error.
    static func raiseSQL(_ sqlState: String, _ message: String, hint: String?) -> String {
        func lit(_ t: String) -> String { "'" + t.replacingOccurrences(of: "'", with: "''") + "'" }
        let h = hint.map { ", HINT = \(lit($0))" } ?? ""
        return "DO $pgstash$ BEGIN RAISE EXCEPTION USING ERRCODE = \(lit(sqlState)), MESSAGE = \(lit(message))\(h); END $pgstash$"
    }

    func refusalMessage(_ feature: String) -> String {
        "\(feature) cannot be used under transaction pooling: pool \(configuration.poolName) runs in transaction mode, and the next transaction may run on another server connection"
    }

    var refusalHint: String {
        "Use a session-mode pool for this client (pool.mode = \"session\", per database or per user), or set pool.pin_on_session_state = true to keep such clients on one server."
    }
}

/// SQLSTATEs pgstash raises itself (PostgreSQL's Appendix A names).
public enum SQLState {
    public static let protocolViolation = "08P01"
    public static let featureNotSupported = "0A000"
    public static let invalidSQLStatementName = "26000"
    public static let duplicatePreparedStatement = "42P05"
    public static let programLimitExceeded = "54000"
    public static let connectionFailure = "08006"
    public static let invalidAuthorizationSpecification = "28000"
    public static let invalidPassword = "28P01"
}

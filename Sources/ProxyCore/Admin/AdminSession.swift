import PostgresWire

/// The console's side of one admin client's protocol: simple Query (several `;`-separated
/// commands run in turn) and the extended protocol (Parse/Bind/Describe/Execute/Sync of a
/// console command, as psql's `\bind` or a driver sends it). Pure: messages in, bytes out
/// and a step telling the driver what to run; outcomes come back through `commandFinished`.
///
/// Error handling follows "Extended Query" in the protocol docs: after an error the
/// messages up to Sync are discarded, and Sync answers ReadyForQuery.
public struct AdminSession: Sendable {
    /// What the driver must do next.
    public enum Step: Sendable, Equatable {
        /// Nothing: read the next message.
        case wait
        /// Run this command (with `AdminConsole.run` and a snapshot), then report its
        /// outcome with `commandFinished`; no message may be fed in between.
        case execute(AdminCommand)
        /// The client sent Terminate: close.
        case terminate
        /// A malformed message: send a FATAL error and close.
        case fatal(AdminError)
    }

    private struct Portal: Sendable {
        /// nil: an empty statement.
        var command: AdminCommand?
        var formats: [Int16]
    }

    private enum Running: Sendable {
        case simple
        case extended(formats: [Int16])
    }

    /// Parsed statements by name; the value nil is an empty statement.
    private var statements: [String: AdminCommand?] = [:]
    private var portals: [String: Portal] = [:]
    /// An extended-protocol error happened: discard until Sync.
    private var failed = false
    /// The commands of a simple Query not yet run.
    private var queue: [String] = []
    private var running: Running?

    public init() {}

    /// True while a command runs (between `.execute` and `commandFinished`).
    public var isRunning: Bool { running != nil }

    /// Feeds one whole frontend message (its body without the 5-byte header).
    public mutating func messageReceived(_ id: FrontendMessageID, body: ArraySlice<UInt8>, out: inout ByteBuffer) -> Step {
        precondition(running == nil, "a message fed while a console command runs")
        if id == .terminate { return .terminate }
        if id == .sync {
            failed = false
            portals.removeAll()
            BackendMessage.readyForQuery(.idle).encode(into: &out)
            return .wait
        }
        let message: FrontendMessage
        do { message = try FrontendMessage.decode(id: id.rawValue, body: body) } catch {
            return .fatal(AdminError(AdminSQLState.protocolViolation, "invalid message: \(error)"))
        }
        if case .query(let text) = message {
            failed = false
            queue = AdminCommand.commands(in: text)
            if queue.isEmpty {
                BackendMessage.emptyQueryResponse.encode(into: &out)
                BackendMessage.readyForQuery(.idle).encode(into: &out)
                return .wait
            }
            return nextQueued(out: &out)
        }
        if failed { return .wait }
        switch message {
        case let .parse(name, query, _):
            let pieces = AdminCommand.commands(in: query)
            guard pieces.count <= 1 else {
                return fail(AdminError(AdminSQLState.syntaxError, "cannot insert multiple commands into a prepared statement"), out: &out)
            }
            if let text = pieces.first {
                switch AdminCommand.parse(text) {
                case .success(let c): statements[name] = .some(c)
                case .failure(let e): return fail(e, out: &out)
                }
            } else {
                statements[name] = .some(nil)
            }
            out.append(CannedMessage.parseComplete)
        case .bind(let b):
            guard let stored = statements[b.statement] else {
                return fail(AdminError(AdminSQLState.invalidStatementName, "prepared statement \"\(b.statement)\" does not exist"), out: &out)
            }
            guard b.parameters.isEmpty else {
                return fail(AdminError(AdminSQLState.protocolViolation,
                                       "bind message supplies \(b.parameters.count) parameters, but prepared statement \"\(b.statement)\" requires 0",
                                       hint: "Console commands take no parameters: write the database name into the command."), out: &out)
            }
            let count = stored.flatMap { AdminConsole.columns(of: $0) }?.count ?? 0
            guard b.resultFormats.count <= 1 || b.resultFormats.count == count,
                  b.resultFormats.allSatisfy({ $0 == 0 || $0 == 1 }) else {
                return fail(AdminError(AdminSQLState.protocolViolation,
                                       "bind message has \(b.resultFormats.count) result formats but query has \(count) columns"), out: &out)
            }
            portals[b.portal] = Portal(command: stored, formats: b.resultFormats)
            out.append(CannedMessage.bindComplete)
        case let .describe(kind, name):
            if kind == UInt8(ascii: "S") {
                guard let stored = statements[name] else {
                    return fail(AdminError(AdminSQLState.invalidStatementName, "prepared statement \"\(name)\" does not exist"), out: &out)
                }
                BackendMessage.parameterDescription([]).encode(into: &out)
                describe(stored, formats: [], out: &out)
            } else {
                guard let p = portals[name] else {
                    return fail(AdminError(AdminSQLState.invalidCursorName, "portal \"\(name)\" does not exist"), out: &out)
                }
                describe(p.command, formats: p.formats, out: &out)
            }
        case let .execute(portal, _):
            guard let p = portals[portal] else {
                return fail(AdminError(AdminSQLState.invalidCursorName, "portal \"\(portal)\" does not exist"), out: &out)
            }
            guard let command = p.command else {
                BackendMessage.emptyQueryResponse.encode(into: &out)
                return .wait
            }
            running = .extended(formats: p.formats)
            return .execute(command)
        case let .close(kind, name):
            if kind == UInt8(ascii: "S") { statements[name] = nil } else { portals[name] = nil }
            out.append(CannedMessage.closeComplete)
        case .flush:
            break
        default:
            return fail(AdminError(AdminSQLState.featureNotSupported, "the admin console does not take \(id) messages",
                                   hint: "Send console commands as queries (SHOW HELP lists them)."), out: &out)
        }
        return .wait
    }

    /// The outcome of the command `.execute` asked for: writes it, and says what is next
    /// (the following command of a simple Query, or nothing).
    public mutating func commandFinished(_ outcome: AdminOutcome, out: inout ByteBuffer) -> Step {
        guard let r = running else { return .wait }
        running = nil
        switch r {
        case .simple:
            Self.write(outcome, describe: true, formats: [], out: &out)
            if case .error = outcome { queue.removeAll() }
            if queue.isEmpty {
                BackendMessage.readyForQuery(.idle).encode(into: &out)
                return .wait
            }
            return nextQueued(out: &out)
        case .extended(let formats):
            Self.write(outcome, describe: false, formats: formats, out: &out)
            if case .error = outcome { failed = true }
            return .wait
        }
    }

    private mutating func nextQueued(out: inout ByteBuffer) -> Step {
        let text = queue.removeFirst()
        switch AdminCommand.parse(text) {
        case .success(let c):
            running = .simple
            return .execute(c)
        case .failure(let e):
            queue.removeAll()
            Self.write(.error(e), describe: true, formats: [], out: &out)
            BackendMessage.readyForQuery(.idle).encode(into: &out)
            return .wait
        }
    }

    private mutating func fail(_ e: AdminError, out: inout ByteBuffer) -> Step {
        failed = true
        Self.write(.error(e), describe: false, formats: [], out: &out)
        return .wait
    }

    private func describe(_ command: AdminCommand?, formats: [Int16], out: inout ByteBuffer) {
        guard let command, let columns = AdminConsole.columns(of: command) else {
            return BackendMessage.noData.encode(into: &out)
        }
        AdminWire.rowDescription(columns, formats: formats).encode(into: &out)
    }

    /// Writes an outcome: RowDescription (when `describe`), DataRows and CommandComplete, or
    /// an ErrorResponse of severity ERROR.
    public static func write(_ outcome: AdminOutcome, describe: Bool, formats: [Int16], out: inout ByteBuffer) {
        switch outcome {
        case .rows(let set):
            if describe { AdminWire.rowDescription(set.columns, formats: formats).encode(into: &out) }
            for row in set.rows { AdminWire.dataRow(row, columns: set.columns, formats: formats).encode(into: &out) }
            BackendMessage.commandComplete(tag: set.tag).encode(into: &out)
        case .done(let tag):
            BackendMessage.commandComplete(tag: tag).encode(into: &out)
        case .error(let e):
            BackendMessage.errorResponse(ErrorFields(severity: "ERROR", sqlState: e.sqlState, message: e.message,
                                                     hint: e.hint)).encode(into: &out)
        }
    }
}

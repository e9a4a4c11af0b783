import CachePolicy
import PostgresWire
import ProxyCore
import Testing

private let orders: Oid = 16384, items: Oid = 16385, stores: Oid = 16386
private let a = WriteSet(tags: [.rows(orders)])
private let b = WriteSet(tags: [.column(items, "qty")])
private let c = WriteSet(tags: [.rows(stores)])
private let epoch = WriteSet(epochReason: "DDL")
private let none = WriteSet()

/// Drives a CommitGate the way ServerHandler does: the client side reports what each message
/// writes and each request the server queued; the server side is a byte stream read frame by
/// frame, where CommandComplete, ReadyForQuery and ErrorResponse are offered to the gate only
/// while it is not idle, a CommandComplete is told the next message if it has arrived,
/// `.needNext` stops reading until more bytes come, and `.publish` publishes (at once here)
/// and offers the same message again, which must then be relayed.
///
/// What the client received renders as in SessionTrace, with `publish <tags>` lines where a
/// write set was published: `["publish 16384|rows", "CommandComplete INSERT 0 1", "ReadyForQuery I"]`.
private struct GateTrace {
    var gate = CommitGate()
    private(set) var published: [WriteSet] = []
    private var inbound: [UInt8] = []

    /// A simple Query (or FunctionCall) that writes `w`.
    mutating func query(_ w: WriteSet) {
        gate.wrote(w)
        gate.requestQueued()
    }

    /// An extended-protocol message that writes `w` (a Bind), before any Sync.
    mutating func bind(_ w: WriteSet) { gate.wrote(w) }

    /// Sync: the server will answer the messages since the last one with ReadyForQuery.
    mutating func sync() { gate.requestQueued() }

    /// The server sends these messages; what reached the client since, with publications.
    /// Stops where the gate waits for the next message.
    mutating func receive(_ messages: BackendMessage...) -> [String] {
        receive(bytes: messages.flatMap(\.encoded))
    }

    mutating func receive(bytes: [UInt8]) -> [String] {
        inbound += bytes
        var out: [String] = []
        while let h = try? Framing.peekHeader(inbound[...], maxBodyLength: 1 << 20), inbound.count >= h.frameLength {
            let body = inbound[5..<h.frameLength]
            let offered: Set<BackendMessageID> = [.commandComplete, .readyForQuery, .errorResponse]
            if let id = BackendMessageID(rawValue: h.id), offered.contains(id), !gate.isIdle {
                switch gate.beforeRelay(h.id, body: body, next: next(after: h)) {
                case .relay: break
                case .needNext: return out
                case .publish(let w):
                    published.append(w)
                    out.append("publish " + Self.render(w))
                    // The same message is offered again, and relayed.
                    if gate.isIdle {
                        Issue.record("the gate is idle after .publish: the driver would not offer the message again")
                    } else {
                        let again = gate.beforeRelay(h.id, body: body, next: next(after: h))
                        if again != .relay { Issue.record("offered again after .publish: \(again), not .relay") }
                    }
                }
            }
            out += SessionTrace.renderBackend(Array(inbound[0..<h.frameLength]))
            inbound.removeFirst(h.frameLength)
        }
        return out
    }

    /// Bytes received that the client has not been sent (held by the gate).
    var held: Int { inbound.count }

    /// The type of the message after a CommandComplete and, for a ReadyForQuery, its status,
    /// when received (ServerHandler.commitGate).
    private func next(after h: FrameHeader) -> (id: UInt8, status: UInt8?)? {
        guard h.id == BackendMessageID.commandComplete.rawValue, inbound.count > h.frameLength else { return nil }
        let id = inbound[h.frameLength]
        guard id == BackendMessageID.readyForQuery.rawValue else { return (id, nil) }
        return inbound.count >= h.frameLength + 6 ? (id, inbound[h.frameLength + 5]) : nil
    }

    static func render(_ w: WriteSet) -> String {
        (w.sortedTags.map(\.description) + (w.bumpsEpoch ? ["epoch"] : [])).joined(separator: ",")
    }
}

private func cc(_ tag: String) -> BackendMessage { .commandComplete(tag: tag) }
private let rowDescription = BackendMessage.rowDescription([
    .init(name: "id", tableOID: Int32(orders), columnAttribute: 1, dataTypeOID: 23, dataTypeSize: 4, typeModifier: -1, format: 0),
])
private let dataRow = BackendMessage.dataRow([Array("1".utf8)])
private let Z_I = BackendMessage.readyForQuery(.idle)
private let Z_T = BackendMessage.readyForQuery(.inTransaction)
private let Z_E = BackendMessage.readyForQuery(.failed)
private let E = BackendMessage.errorResponse(ErrorFields(severity: "ERROR", sqlState: "22012", message: "division by zero"))

private let C = BackendMessageID.commandComplete.rawValue
private let Z = BackendMessageID.readyForQuery.rawValue
private func tag(_ s: String) -> ArraySlice<UInt8> { (Array(s.utf8) + [0])[...] }
private let idleStatus = TransactionStatus.idle.rawValue
private let blockStatus = TransactionStatus.inTransaction.rawValue

/// Traces of the commit gate (cache.md §1.2 step 4, §1.6): a write's tags are published after
/// PostgreSQL commits it and before the CommandComplete or ReadyForQuery that tells the client.
@Suite("CommitGate")
struct CommitGateTests {
    // MARK: The machine itself

    @Test func publishIsFollowedByRelayOfTheSameMessage() {
        var g = CommitGate()
        g.wrote(a)
        g.requestQueued()
        #expect(g.beforeRelay(C, body: tag("INSERT 0 1"), next: nil) == .needNext)
        #expect(g.beforeRelay(C, body: tag("INSERT 0 1"), next: (Z, idleStatus)) == .publish(a))
        #expect(g.beforeRelay(C, body: tag("INSERT 0 1"), next: (Z, idleStatus)) == .relay)
        #expect(g.beforeRelay(Z, body: [idleStatus][...], next: nil) == .relay)
        #expect(g.isIdle)
        #expect(!g.hasWrites)
    }

    @Test func readyForQueryPublishIsFollowedByRelay() {
        var g = CommitGate()
        g.wrote(a)
        g.requestQueued()
        // A notice between the CommandComplete and ReadyForQuery: the CommandComplete is relayed.
        #expect(g.beforeRelay(C, body: tag("INSERT 0 1"), next: (BackendMessageID.noticeResponse.rawValue, nil)) == .relay)
        #expect(g.beforeRelay(Z, body: [idleStatus][...], next: nil) == .publish(a))
        #expect(g.beforeRelay(Z, body: [idleStatus][...], next: nil) == .relay)
        #expect(!g.hasWrites)
    }

    // MARK: Autocommit

    @Test func autocommitInsertIsPublishedBeforeItsCommandComplete() {
        var t = GateTrace()
        t.query(a)
        #expect(t.receive(cc("INSERT 0 1"), Z_I) == ["publish 16384|rows", "CommandComplete INSERT 0 1", "ReadyForQuery I"])
        #expect(t.published == [a])
        #expect(t.gate.isIdle)
    }

    @Test func commandCompleteWaitsForItsReadyForQuery() {
        var t = GateTrace()
        t.query(a)
        #expect(t.receive(cc("INSERT 0 1")) == [])
        #expect(t.held > 0)
        #expect(t.published == [])
        #expect(t.receive(Z_I) == ["publish 16384|rows", "CommandComplete INSERT 0 1", "ReadyForQuery I"])
        #expect(t.held == 0)
    }

    /// ReadyForQuery's header arrived without its status byte: still waiting.
    @Test func halfAReadyForQueryIsNotEnough() {
        var t = GateTrace()
        t.query(a)
        let z = Z_I.encoded
        #expect(t.receive(bytes: cc("UPDATE 1").encoded + z.prefix(5)) == [])
        #expect(t.receive(bytes: Array(z.suffix(1))) == ["publish 16384|rows", "CommandComplete UPDATE 1", "ReadyForQuery I"])
    }

    @Test func multiStatementQueryPublishesAtItsLastCommandComplete() {
        var t = GateTrace()
        t.query(a)     // INSERT INTO orders …; SELECT 1
        #expect(t.receive(cc("INSERT 0 1"), rowDescription, dataRow, cc("SELECT 1"), Z_I)
                == ["CommandComplete INSERT 0 1", "RowDescription", "DataRow", "publish 16384|rows", "CommandComplete SELECT 1",
                    "ReadyForQuery I"])
    }

    @Test func extendedAutocommitIsPublishedAtSync() {
        var t = GateTrace()
        t.bind(a)
        t.sync()
        #expect(t.receive(.parseComplete, .bindComplete, cc("UPDATE 1"), Z_I)
                == ["ParseComplete", "BindComplete", "publish 16384|rows", "CommandComplete UPDATE 1", "ReadyForQuery I"])
        #expect(t.gate.isIdle)
    }

    @Test func extendedAutocommitWithReadyForQueryLater() {
        var t = GateTrace()
        t.bind(a)
        t.sync()
        #expect(t.receive(.bindComplete, cc("UPDATE 1")) == ["BindComplete"])
        #expect(t.receive(Z_I) == ["publish 16384|rows", "CommandComplete UPDATE 1", "ReadyForQuery I"])
    }

    /// Two writes in one Sync (a pgjdbc batch): one publication of both, before the last
    /// CommandComplete; the first one has not committed at its own CommandComplete.
    @Test func extendedBatchOfWritesIsPublishedOnce() {
        var t = GateTrace()
        t.bind(a)
        t.bind(b)
        t.sync()
        #expect(t.receive(.bindComplete, cc("UPDATE 1"), .bindComplete, cc("UPDATE 1"), Z_I)
                == ["BindComplete", "CommandComplete UPDATE 1", "BindComplete", "publish 16384|rows,16385|c:qty",
                    "CommandComplete UPDATE 1", "ReadyForQuery I"])
    }

    /// Execute + Flush with no Sync yet: the client waits for the CommandComplete before it
    /// sends Sync, so the gate must never wait for a ReadyForQuery that is not coming.
    @Test func flushedWriteNeverWaitsForReadyForQuery() {
        var t = GateTrace()
        t.bind(a)      // Bind, Execute, Flush
        #expect(t.receive(.bindComplete, cc("UPDATE 1")) == ["BindComplete", "CommandComplete UPDATE 1"])
        #expect(t.held == 0)
        #expect(t.published == [])
        t.sync()
        #expect(t.receive(Z_I) == ["publish 16384|rows", "ReadyForQuery I"])

        var g = CommitGate()
        g.wrote(a)
        #expect(g.beforeRelay(C, body: tag("UPDATE 1"), next: nil) == .relay)
    }

    @Test func readsNeverPublishNorWait() {
        var t = GateTrace()
        t.query(none)
        #expect(t.receive(rowDescription, dataRow, cc("SELECT 1")) == ["RowDescription", "DataRow", "CommandComplete SELECT 1"])
        #expect(t.receive(Z_I) == ["ReadyForQuery I"])
        t.bind(none)
        t.sync()
        #expect(t.receive(.bindComplete, cc("SELECT 1")) == ["BindComplete", "CommandComplete SELECT 1"])
        #expect(t.receive(Z_I) == ["ReadyForQuery I"])
        #expect(t.published == [])
        #expect(t.gate.isIdle)
        #expect(!t.gate.hasWrites)
    }

    @Test func epochBumpIsAWrite() {
        var t = GateTrace()
        t.query(epoch)
        #expect(t.receive(cc("ALTER TABLE"), Z_I) == ["publish epoch", "CommandComplete ALTER TABLE", "ReadyForQuery I"])
    }

    // MARK: Explicit transactions

    @Test func explicitTransactionPublishesAtCommitNotBefore() {
        var t = GateTrace()
        t.query(none)
        #expect(t.receive(cc("BEGIN"), Z_T) == ["CommandComplete BEGIN", "ReadyForQuery T"])
        t.query(a)
        #expect(t.receive(cc("UPDATE 1"), Z_T) == ["CommandComplete UPDATE 1", "ReadyForQuery T"])
        t.query(b)
        #expect(t.receive(cc("UPDATE 2"), Z_T) == ["CommandComplete UPDATE 2", "ReadyForQuery T"])
        #expect(t.published == [])
        #expect(t.gate.hasWrites)
        t.query(none)
        #expect(t.receive(cc("COMMIT"), Z_I)
                == ["publish 16384|rows,16385|c:qty", "CommandComplete COMMIT", "ReadyForQuery I"])
        #expect(t.published.count == 1)
        #expect(!t.gate.hasWrites)
    }

    /// The COMMIT's CommandComplete is the acknowledgement: it is not held until ReadyForQuery.
    @Test func commitIsPublishedWithoutWaitingForReadyForQuery() {
        var t = GateTrace()
        t.query(none)
        _ = t.receive(cc("BEGIN"), Z_T)
        t.query(a)
        _ = t.receive(cc("UPDATE 1"), Z_T)
        t.query(none)
        #expect(t.receive(cc("COMMIT")) == ["publish 16384|rows", "CommandComplete COMMIT"])
        #expect(t.receive(Z_I) == ["ReadyForQuery I"])
    }

    @Test func extendedExplicitTransactionPublishesAtCommit() {
        var t = GateTrace()
        t.bind(none); t.sync()
        _ = t.receive(.bindComplete, cc("BEGIN"), Z_T)
        t.bind(a); t.sync()
        #expect(t.receive(.bindComplete, cc("INSERT 0 1"), Z_T) == ["BindComplete", "CommandComplete INSERT 0 1", "ReadyForQuery T"])
        t.bind(none); t.sync()
        #expect(t.receive(.bindComplete, cc("COMMIT"), Z_I) == ["BindComplete", "publish 16384|rows", "CommandComplete COMMIT",
                                                                 "ReadyForQuery I"])
    }

    @Test func rollbackPublishesNothing() {
        var t = GateTrace()
        t.query(none)
        _ = t.receive(cc("BEGIN"), Z_T)
        t.query(a)
        _ = t.receive(cc("UPDATE 1"), Z_T)
        t.query(none)
        #expect(t.receive(cc("ROLLBACK"), Z_I) == ["CommandComplete ROLLBACK", "ReadyForQuery I"])
        #expect(t.published == [])
        #expect(!t.gate.hasWrites)
        // The next transaction starts clean.
        t.query(b)
        #expect(t.receive(cc("DELETE 1"), Z_I) == ["publish 16385|c:qty", "CommandComplete DELETE 1", "ReadyForQuery I"])
    }

    /// `BEGIN; UPDATE …; ROLLBACK` as one Query.
    @Test func rollbackInOneQueryPublishesNothing() {
        var t = GateTrace()
        t.query(a)
        #expect(t.receive(cc("BEGIN"), cc("UPDATE 1"), cc("ROLLBACK"), Z_I)
                == ["CommandComplete BEGIN", "CommandComplete UPDATE 1", "CommandComplete ROLLBACK", "ReadyForQuery I"])
        #expect(t.published == [])
        #expect(!t.gate.hasWrites)
    }

    /// ROLLBACK TO SAVEPOINT reports `ROLLBACK` but ends nothing: the COMMIT after it publishes.
    @Test func rollbackToSavepointThenCommitPublishes() {
        var t = GateTrace()
        t.query(none)
        _ = t.receive(cc("BEGIN"), Z_T)
        t.query(a)
        _ = t.receive(cc("UPDATE 1"), Z_T)
        t.query(none)
        _ = t.receive(cc("SAVEPOINT"), Z_T)
        t.query(b)
        _ = t.receive(cc("UPDATE 1"), Z_T)
        t.query(none)
        #expect(t.receive(cc("ROLLBACK"), Z_T) == ["CommandComplete ROLLBACK", "ReadyForQuery T"])
        t.query(none)
        #expect(t.receive(cc("COMMIT"), Z_I).first == "publish 16384|rows,16385|c:qty")
        #expect(t.published.count == 1)
    }

    /// An error inside a savepoint, rolled back to: the transaction commits, and publishes.
    @Test func errorRolledBackToASavepointThenCommitPublishes() {
        var t = GateTrace()
        t.query(none)
        _ = t.receive(cc("BEGIN"), Z_T)
        t.query(a)
        _ = t.receive(cc("UPDATE 1"), Z_T)
        t.query(none)
        _ = t.receive(cc("SAVEPOINT"), Z_T)
        t.query(b)
        #expect(t.receive(E, Z_E) == ["ErrorResponse 22012", "ReadyForQuery E"])
        t.query(none)
        _ = t.receive(cc("ROLLBACK"), Z_T)
        t.query(none)
        #expect(t.receive(cc("COMMIT"), Z_I).first == "publish 16384|rows,16385|c:qty")
        #expect(!t.gate.hasWrites)
    }

    /// COMMIT of a failed transaction is answered `ROLLBACK`.
    @Test func commitOfAFailedTransactionPublishesNothing() {
        var t = GateTrace()
        t.query(none)
        _ = t.receive(cc("BEGIN"), Z_T)
        t.query(a)
        _ = t.receive(cc("UPDATE 1"), Z_T)
        t.query(b)
        _ = t.receive(E, Z_E)
        t.query(none)
        #expect(t.receive(cc("ROLLBACK"), Z_I) == ["CommandComplete ROLLBACK", "ReadyForQuery I"])
        #expect(t.published == [])
        #expect(!t.gate.hasWrites)
    }

    @Test func errorInAnImplicitTransactionPublishesNothing() {
        var t = GateTrace()
        t.query(a)     // INSERT INTO orders …; SELECT 1/0
        #expect(t.receive(cc("INSERT 0 1"), rowDescription, E, Z_I)
                == ["CommandComplete INSERT 0 1", "RowDescription", "ErrorResponse 22012", "ReadyForQuery I"])
        #expect(t.published == [])
        #expect(!t.gate.hasWrites)
        // The failure does not outlive its transaction.
        t.query(b)
        #expect(t.receive(cc("UPDATE 1"), Z_I) == ["publish 16385|c:qty", "CommandComplete UPDATE 1", "ReadyForQuery I"])
    }

    @Test func errorInAnExtendedImplicitTransactionPublishesNothing() {
        var t = GateTrace()
        t.bind(a)
        t.bind(b)
        t.sync()
        #expect(t.receive(.bindComplete, cc("INSERT 0 1"), .bindComplete, E, Z_I)
                == ["BindComplete", "CommandComplete INSERT 0 1", "BindComplete", "ErrorResponse 22012", "ReadyForQuery I"])
        #expect(t.published == [])
        #expect(!t.gate.hasWrites)
    }

    /// COMMIT AND CHAIN reports `COMMIT` and then ReadyForQuery 'T'.
    @Test func commitAndChainPublishes() {
        var t = GateTrace()
        t.query(none)
        _ = t.receive(cc("BEGIN"), Z_T)
        t.query(a)
        _ = t.receive(cc("UPDATE 1"), Z_T)
        t.query(none)
        #expect(t.receive(cc("COMMIT"), Z_T) == ["publish 16384|rows", "CommandComplete COMMIT", "ReadyForQuery T"])
        // The chained transaction: its writes wait for its own end.
        t.query(b)
        _ = t.receive(cc("UPDATE 1"), Z_T)
        t.query(none)
        #expect(t.receive(cc("ROLLBACK"), Z_I) == ["CommandComplete ROLLBACK", "ReadyForQuery I"])
        #expect(t.published == [a])
    }

    /// `BEGIN; UPDATE a; COMMIT; UPDATE b` as one Query: b commits after the COMMIT, in an
    /// implicit transaction, and must be published after that (twice is fine, never missed).
    @Test func writeAfterACommitInTheSameQueryIsPublishedAfterItCommits() {
        var t = GateTrace()
        t.query({ var w = a; w.formUnion(b); return w }())
        let got = t.receive(cc("BEGIN"), cc("UPDATE 1"), cc("COMMIT"), cc("UPDATE 1"), Z_I)
        #expect(got.filter { !$0.hasPrefix("publish") }
                == ["CommandComplete BEGIN", "CommandComplete UPDATE 1", "CommandComplete COMMIT", "CommandComplete UPDATE 1",
                    "ReadyForQuery I"])
        // a before the COMMIT's CommandComplete, b again before the last CommandComplete.
        let commit = got.firstIndex(of: "CommandComplete COMMIT")!
        #expect(got[..<commit].contains { $0.hasPrefix("publish") && $0.contains("16384|rows") })
        let last = got.lastIndex(of: "CommandComplete UPDATE 1")!
        #expect(got[commit..<last].contains { $0.hasPrefix("publish") && $0.contains("16385|c:qty") })
        #expect(!t.gate.hasWrites)
    }

    @Test func prepareTransactionDropsTheWrites() {
        var t = GateTrace()
        t.query(none)
        _ = t.receive(cc("BEGIN"), Z_T)
        t.query(a)
        _ = t.receive(cc("UPDATE 1"), Z_T)
        t.query(none)
        #expect(t.receive(cc("PREPARE TRANSACTION"), Z_I) == ["CommandComplete PREPARE TRANSACTION", "ReadyForQuery I"])
        #expect(t.published == [])
        #expect(!t.gate.hasWrites)
    }

    /// `ROLLBACK; INSERT …` after a failed transaction: the INSERT commits in an implicit
    /// transaction of its own, and the old failure must not stop its publication.
    @Test func writeAfterTheRollbackOfAFailedTransactionIsPublished() {
        var t = GateTrace()
        t.query(none)
        _ = t.receive(cc("BEGIN"), Z_T)
        t.query(a)
        _ = t.receive(cc("UPDATE 1"), Z_T)
        t.query(none)
        #expect(t.receive(E, Z_E) == ["ErrorResponse 22012", "ReadyForQuery E"])
        t.query(b)     // ROLLBACK; INSERT INTO items …
        let got = t.receive(cc("ROLLBACK"), cc("INSERT 0 1"), Z_I)
        #expect(got.filter { !$0.hasPrefix("publish") } == ["CommandComplete ROLLBACK", "CommandComplete INSERT 0 1", "ReadyForQuery I"])
        let insert = got.firstIndex(of: "CommandComplete INSERT 0 1")!
        #expect(got[..<insert].contains { $0.hasPrefix("publish") && $0.contains("16385|c:qty") })
        #expect(!t.gate.hasWrites)
    }

    /// The same in one extended-protocol Sync: Bind ROLLBACK, Execute, Bind INSERT, Execute, Sync.
    @Test func extendedWriteAfterTheRollbackOfAFailedTransactionIsPublished() {
        var t = GateTrace()
        t.query(none)
        _ = t.receive(cc("BEGIN"), Z_T)
        t.query(none)
        _ = t.receive(E, Z_E)
        t.bind(none)
        t.bind(b)
        t.sync()
        #expect(t.receive(.bindComplete, cc("ROLLBACK"), .bindComplete, cc("INSERT 0 1"), Z_I)
                == ["BindComplete", "CommandComplete ROLLBACK", "BindComplete", "publish 16385|c:qty", "CommandComplete INSERT 0 1",
                    "ReadyForQuery I"])
    }

    /// A transaction that recovered from an error (ROLLBACK TO SAVEPOINT) commits, and a write
    /// after the COMMIT in the same Query commits after it: published again then.
    @Test func writeAfterTheCommitOfARecoveredTransactionIsPublishedAfterItCommits() {
        var t = GateTrace()
        t.query(none)
        _ = t.receive(cc("BEGIN"), Z_T)
        t.query(none)
        _ = t.receive(cc("SAVEPOINT"), Z_T)
        t.query(a)
        _ = t.receive(E, Z_E)
        t.query(none)
        _ = t.receive(cc("ROLLBACK"), Z_T)
        t.query(b)     // COMMIT; INSERT INTO items …
        let got = t.receive(cc("COMMIT"), cc("INSERT 0 1"), Z_I)
        let commit = got.firstIndex(of: "CommandComplete COMMIT")!, insert = got.firstIndex(of: "CommandComplete INSERT 0 1")!
        #expect(got[commit..<insert].contains { $0.hasPrefix("publish") && $0.contains("16385|c:qty") })
    }

    // MARK: Pipelines

    /// A read and a write sent together: the read's ReadyForQuery 'I' comes before the write
    /// has committed, and must not publish it.
    @Test func writePipelinedBehindAReadIsPublishedAtItsOwnCommit() {
        var t = GateTrace()
        t.query(none)
        t.query(a)
        #expect(t.receive(rowDescription, dataRow, cc("SELECT 1"), Z_I)
                == ["RowDescription", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I"])
        #expect(t.published == [])
        #expect(t.gate.hasWrites)
        #expect(t.receive(cc("INSERT 0 1"), Z_I) == ["publish 16384|rows", "CommandComplete INSERT 0 1", "ReadyForQuery I"])
    }

    @Test func extendedWritePipelinedBehindAReadIsPublishedAtItsOwnSync() {
        var t = GateTrace()
        t.bind(none); t.sync()
        t.bind(a); t.sync()
        #expect(t.receive(.bindComplete, dataRow, cc("SELECT 1"), Z_I, .bindComplete, cc("UPDATE 1"), Z_I)
                == ["BindComplete", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I",
                    "BindComplete", "publish 16384|rows", "CommandComplete UPDATE 1", "ReadyForQuery I"])
    }

    /// Two autocommit writes pipelined: each is published at its own commit, not the other's.
    @Test func pipelinedWritesArePublishedOneByOne() {
        var t = GateTrace()
        t.query(a)
        t.query(b)
        #expect(t.receive(cc("INSERT 0 1"), Z_I, cc("UPDATE 1"), Z_I)
                == ["publish 16384|rows", "CommandComplete INSERT 0 1", "ReadyForQuery I",
                    "publish 16385|c:qty", "CommandComplete UPDATE 1", "ReadyForQuery I"])
        #expect(t.published == [a, b])
    }

    /// A publication at ReadyForQuery can leave nothing else recorded; the re-offer of that
    /// ReadyForQuery must still reach the gate (the driver asks only a gate that is not idle),
    /// or the next request's first message is taken for it: here an empty query's
    /// ReadyForQuery, which then leaves its request in flight, and the next write is
    /// published at nobody's commit.
    @Test func gateIsNotIdleUntilAPublishedMessageIsOfferedAgain() {
        var t = GateTrace()
        t.query(a)     // BEGIN; UPDATE orders …; COMMIT
        #expect(t.receive(cc("BEGIN"), cc("UPDATE 1"), cc("COMMIT"), Z_I)
                == ["CommandComplete BEGIN", "CommandComplete UPDATE 1", "publish 16384|rows", "CommandComplete COMMIT",
                    "publish 16384|rows", "ReadyForQuery I"])
        #expect(t.gate.isIdle)
        t.query(none)  // ";"
        #expect(t.receive(.emptyQueryResponse, Z_I) == ["EmptyQueryResponse", "ReadyForQuery I"])
        t.query(b)     // an autocommit UPDATE
        #expect(t.receive(cc("UPDATE 1"), Z_I) == ["publish 16385|c:qty", "CommandComplete UPDATE 1", "ReadyForQuery I"])
    }

    @Test func publishedGateIsNotIdle() {
        var g = CommitGate()
        g.wrote(a)
        g.requestQueued()
        #expect(g.beforeRelay(C, body: tag("INSERT 0 1"), next: (BackendMessageID.noticeResponse.rawValue, nil)) == .relay)
        #expect(g.beforeRelay(Z, body: [idleStatus][...], next: nil) == .publish(a))
        #expect(!g.isIdle)
        #expect(g.beforeRelay(Z, body: [idleStatus][...], next: nil) == .relay)
        #expect(g.isIdle)
    }

    // MARK: Orphans

    @Test func takeAllGathersEveryUnpublishedWrite() {
        var g = CommitGate()
        g.wrote(none); g.requestQueued()
        #expect(g.beforeRelay(C, body: tag("BEGIN"), next: (Z, blockStatus)) == .relay)
        #expect(g.beforeRelay(Z, body: [blockStatus][...], next: nil) == .relay)
        g.wrote(a); g.requestQueued()
        #expect(g.beforeRelay(C, body: tag("UPDATE 1"), next: (Z, blockStatus)) == .relay)
        #expect(g.beforeRelay(Z, body: [blockStatus][...], next: nil) == .relay)   // a: the transaction's
        g.wrote(b); g.requestQueued()                                                // b: in flight
        g.wrote(epoch)                                                               // epoch: not synced yet
        #expect(g.hasWrites)
        let all = g.takeAll()
        #expect(all.tags == [.rows(orders), .column(items, "qty")])
        #expect(all.bumpsEpoch)
        #expect(g.isIdle)
        #expect(!g.hasWrites)
        #expect(g.takeAll().isEmpty)
    }

    @Test func emptyWriteSetsLeaveTheGateWithoutWrites() {
        var g = CommitGate()
        g.wrote(none)
        #expect(g.isIdle)
        g.requestQueued()
        #expect(!g.hasWrites)
        #expect(g.beforeRelay(C, body: tag("SELECT 1"), next: nil) == .relay)
        #expect(g.beforeRelay(Z, body: [idleStatus][...], next: nil) == .relay)
        #expect(g.isIdle)
    }
}

import PostgresWire
import ProxyCore
import Testing

/// What the client receives: a server's message passed on, or one pgstash made up.
enum Seen: Equatable, CustomStringConvertible {
    case server(BackendMessageID)
    case made(BackendMessageID)

    var id: BackendMessageID {
        switch self { case .server(let i), .made(let i): return i }
    }
    var description: String {
        switch self { case .server(let i): return "\(i)"; case .made(let i): return "\(i)*" }
    }
}

/// Drives a ResponseTracker the way its documentation asks a driver to: queue client
/// requests (draining made-up responses after each), then for each server message call
/// `responseReceived`, pass the message on if told to, and drain again.
struct TrackerTrace {
    var tracker = ResponseTracker()
    var toClient = ByteBuffer()
    /// Server frames carry this one-byte body so the trace can tell them from made-up ones.
    static let serverMark: UInt8 = 0xAA

    mutating func clientSent(_ kinds: RequestKind..., forward: Bool = true, statement: String? = nil) {
        for k in kinds {
            tracker.requestSent(k, forward: forward, statement: statement)
            tracker.drainSynthesized(into: &toClient)
        }
    }

    /// pgstash answers a client request itself (e.g. a Parse of a statement the server has).
    mutating func pgstashAnswers(_ message: [UInt8]) {
        tracker.synthesize(message)
        tracker.drainSynthesized(into: &toClient)
    }

    /// The server sends these messages; returns everything the client received since the
    /// last call, in order.
    mutating func serverSent(_ ids: BackendMessageID...) -> [Seen] {
        for id in ids {
            if tracker.responseReceived(id.rawValue, into: &toClient) {
                toClient.append([id.rawValue, 0, 0, 0, 5, Self.serverMark])
            }
            tracker.drainSynthesized(into: &toClient)
        }
        return received()
    }

    /// Everything the client received since the last call.
    mutating func received() -> [Seen] {
        let bytes = Array(toClient.readableView)
        toClient.clear()
        var seen: [Seen] = []
        var i = 0
        while i + 5 <= bytes.count {
            let n = Int(bytes[i + 1]) << 24 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 8 | Int(bytes[i + 4])
            let id = BackendMessageID(rawValue: bytes[i])!
            let fromServer = n == 5 && bytes[i + 5] == Self.serverMark
            seen.append(fromServer ? .server(id) : .made(id))
            i += 1 + n
        }
        return seen
    }
}

@Suite("ResponseTracker")
struct ResponseTrackerTests {
    @Test func simpleQuery() {
        var t = TrackerTrace()
        t.clientSent(.query)
        #expect(t.tracker.outstandingSyncs == 1)
        #expect(t.serverSent(.rowDescription, .dataRow, .dataRow, .commandComplete)
                == [.server(.rowDescription), .server(.dataRow), .server(.dataRow), .server(.commandComplete)])
        #expect(!t.tracker.isIdle)
        #expect(t.serverSent(.readyForQuery) == [.server(.readyForQuery)])
        #expect(t.tracker.outstandingSyncs == 0)
        #expect(t.tracker.isIdle)
    }

    @Test func multiStatementQueryWithAnErrorEndsAtReadyForQuery() {
        var t = TrackerTrace()
        t.clientSent(.query)
        #expect(t.serverSent(.commandComplete, .errorResponse, .readyForQuery)
                == [.server(.commandComplete), .server(.errorResponse), .server(.readyForQuery)])
        #expect(t.tracker.isIdle)
        #expect(t.tracker.failedStatements.isEmpty)
    }

    @Test func emptyQuery() {
        var t = TrackerTrace()
        t.clientSent(.query)
        #expect(t.serverSent(.emptyQueryResponse, .readyForQuery) == [.server(.emptyQueryResponse), .server(.readyForQuery)])
        #expect(t.tracker.isIdle)
    }

    @Test func pipelinedExtendedQuery() {
        var t = TrackerTrace()
        t.clientSent(.parse, .bind, .describePortal, .execute, .sync)
        t.clientSent(.bind, .execute, .sync)
        #expect(t.tracker.outstandingSyncs == 2)
        #expect(t.serverSent(.parseComplete, .bindComplete, .rowDescription, .dataRow, .commandComplete, .readyForQuery)
                == [.server(.parseComplete), .server(.bindComplete), .server(.rowDescription), .server(.dataRow),
                    .server(.commandComplete), .server(.readyForQuery)])
        #expect(t.tracker.outstandingSyncs == 1)
        #expect(t.serverSent(.bindComplete, .dataRow, .portalSuspended, .readyForQuery)
                == [.server(.bindComplete), .server(.dataRow), .server(.portalSuspended), .server(.readyForQuery)])
        #expect(t.tracker.outstandingSyncs == 0)
        #expect(t.tracker.isIdle)
    }

    @Test func describePortalWithoutRowsGetsNoData() {
        var t = TrackerTrace()
        t.clientSent(.bind, .describePortal, .execute, .sync)
        #expect(t.serverSent(.bindComplete, .noData, .commandComplete, .readyForQuery).map(\.id)
                == [.bindComplete, .noData, .commandComplete, .readyForQuery])
        #expect(t.tracker.isIdle)
    }

    @Test(arguments: [BackendMessageID.rowDescription, .noData])
    func describeStatementTakesParameterDescriptionThenRowsOrNoData(_ last: BackendMessageID) {
        var t = TrackerTrace()
        t.clientSent(.parse, .describeStatement, .sync)
        #expect(t.serverSent(.parseComplete, .parameterDescription) == [.server(.parseComplete), .server(.parameterDescription)])
        #expect(!t.tracker.isIdle)
        #expect(t.serverSent(last, .readyForQuery) == [.server(last), .server(.readyForQuery)])
        #expect(t.tracker.isIdle)
    }

    @Test func closeAndFlushStyleBatch() {
        var t = TrackerTrace()
        t.clientSent(.close, .sync)
        #expect(t.serverSent(.closeComplete, .readyForQuery) == [.server(.closeComplete), .server(.readyForQuery)])
        #expect(t.tracker.isIdle)
    }

    @Test func functionCall() {
        var t = TrackerTrace()
        t.clientSent(.functionCall)
        #expect(t.tracker.outstandingSyncs == 1)
        #expect(t.serverSent(.functionCallResponse, .readyForQuery) == [.server(.functionCallResponse), .server(.readyForQuery)])
        #expect(t.tracker.outstandingSyncs == 0)
    }

    // MARK: Injected requests

    @Test func injectedParseIsSwallowed() {
        var t = TrackerTrace()
        t.clientSent(.parse, forward: false, statement: "pgstash_1")    // re-prepare on this server
        t.clientSent(.bind, .execute, .sync)
        #expect(t.serverSent(.parseComplete, .bindComplete, .commandComplete, .readyForQuery)
                == [.server(.bindComplete), .server(.commandComplete), .server(.readyForQuery)])
        #expect(t.tracker.isIdle)
        #expect(t.tracker.failedStatements.isEmpty)
    }

    @Test func injectedSetQueryIsSwallowedWhole() {
        var t = TrackerTrace()
        t.clientSent(.query, forward: false)                 // SET replay
        t.clientSent(.query)
        #expect(t.tracker.outstandingSyncs == 2)
        #expect(t.serverSent(.commandComplete, .readyForQuery, .commandComplete, .readyForQuery)
                == [.server(.commandComplete), .server(.readyForQuery)])
        #expect(t.tracker.outstandingSyncs == 0)
    }

    @Test func errorInAnInjectedParseIsForwarded() {
        var t = TrackerTrace()
        t.clientSent(.parse, forward: false, statement: "pgstash_1")
        t.clientSent(.bind, .execute, .sync)
        #expect(t.serverSent(.errorResponse, .readyForQuery) == [.server(.errorResponse), .server(.readyForQuery)])
        #expect(t.tracker.takeFailedStatements().map(\.serverName) == ["pgstash_1"])
        #expect(t.tracker.failedStatements.isEmpty)
        #expect(t.tracker.isIdle)
    }

    // MARK: Synthesized responses

    @Test func synthesizedParseCompleteAtTheHeadIsSentAtOnce() {
        var t = TrackerTrace()
        t.pgstashAnswers(CannedMessage.parseComplete)        // the server already has the statement
        #expect(Array(t.toClient.readableView) == [0x31, 0, 0, 0, 4])
        #expect(t.received() == [.made(.parseComplete)])
        t.clientSent(.bind, .execute, .sync)
        #expect(t.serverSent(.bindComplete, .commandComplete, .readyForQuery)
                == [.server(.bindComplete), .server(.commandComplete), .server(.readyForQuery)])
    }

    /// A made-up response takes its request's place in the stream: after every response to
    /// the requests before it, before every response to the requests after it.
    @Test func synthesizedParseCompleteKeepsItsPlaceInAPipeline() {
        var t = TrackerTrace()
        t.clientSent(.parse, .bind, .execute)                 // first statement: new on this server
        t.pgstashAnswers(CannedMessage.parseComplete)         // second statement: already prepared
        #expect(t.received() == [])                            // not due yet
        t.clientSent(.bind, .execute, .sync)
        #expect(t.serverSent(.parseComplete, .bindComplete, .dataRow) == [.server(.parseComplete), .server(.bindComplete), .server(.dataRow)])
        #expect(t.serverSent(.commandComplete) == [.server(.commandComplete), .made(.parseComplete)])
        #expect(t.serverSent(.bindComplete, .commandComplete, .readyForQuery)
                == [.server(.bindComplete), .server(.commandComplete), .server(.readyForQuery)])
    }

    @Test func synthesizedCloseCompleteAfterABindComesAfterBindComplete() {
        var t = TrackerTrace()
        t.clientSent(.bind)
        t.pgstashAnswers(CannedMessage.closeComplete)         // Close of a client statement name
        t.clientSent(.execute, .sync)
        #expect(t.serverSent(.bindComplete, .commandComplete, .readyForQuery)
                == [.server(.bindComplete), .made(.closeComplete), .server(.commandComplete), .server(.readyForQuery)])
    }

    @Test func consecutiveSynthesizedResponsesAtTheHeadAllGoAtOnce() {
        var t = TrackerTrace()
        t.pgstashAnswers(CannedMessage.closeComplete)
        t.pgstashAnswers(CannedMessage.parseComplete)
        #expect(t.received() == [.made(.closeComplete), .made(.parseComplete)])
        t.clientSent(.sync)
        #expect(t.serverSent(.readyForQuery) == [.server(.readyForQuery)])
        #expect(t.tracker.isIdle)
    }

    // MARK: Errors skip to Sync

    @Test func errorMidBatchSkipsToSync() {
        var t = TrackerTrace()
        t.clientSent(.parse, statement: "pgstash_1")
        t.clientSent(.bind, .execute)
        t.clientSent(.parse, statement: "pgstash_2")          // never reaches the server's executor
        t.pgstashAnswers(CannedMessage.parseComplete)         // pgstash_3: already on the server
        t.clientSent(.parse, forward: false, statement: "pgstash_4")
        t.clientSent(.bind, .execute, .sync)
        #expect(t.serverSent(.parseComplete, .bindComplete, .errorResponse)
                == [.server(.parseComplete), .server(.bindComplete), .server(.errorResponse)])
        #expect(t.tracker.failedStatements.map(\.serverName) == ["pgstash_2", "pgstash_4"])
        #expect(t.serverSent(.readyForQuery) == [.server(.readyForQuery)])   // no made-up ParseComplete
        #expect(t.tracker.isIdle)
        #expect(t.tracker.outstandingSyncs == 0)
    }

    @Test func failedParseIsNamed() {
        var t = TrackerTrace()
        t.clientSent(.parse, statement: "pgstash_7")
        t.clientSent(.bind, .execute, .sync)
        #expect(t.serverSent(.errorResponse, .readyForQuery) == [.server(.errorResponse), .server(.readyForQuery)])
        #expect(t.tracker.takeFailedStatements().map(\.serverName) == ["pgstash_7"])
    }

    @Test func errorSkipsOnlyToTheFirstSync() {
        var t = TrackerTrace()
        t.clientSent(.bind, .execute, .sync)
        t.clientSent(.parse, statement: "pgstash_9")
        t.clientSent(.bind, .execute, .sync)
        #expect(t.serverSent(.errorResponse, .readyForQuery) == [.server(.errorResponse), .server(.readyForQuery)])
        #expect(t.tracker.outstandingSyncs == 1)
        #expect(t.serverSent(.parseComplete, .bindComplete, .commandComplete, .readyForQuery).map(\.id)
                == [.parseComplete, .bindComplete, .commandComplete, .readyForQuery])
        #expect(t.tracker.failedStatements.isEmpty)
        #expect(t.tracker.isIdle)
    }

    @Test func errorAnsweringSyncIsForwarded() {
        // A deferred constraint fails when Sync commits the implicit transaction.
        var t = TrackerTrace()
        t.clientSent(.bind, .execute, .sync)
        #expect(t.serverSent(.bindComplete, .commandComplete, .errorResponse, .readyForQuery).map(\.id)
                == [.bindComplete, .commandComplete, .errorResponse, .readyForQuery])
        #expect(t.tracker.isIdle)
        #expect(t.tracker.outstandingSyncs == 0)
    }

    /// PostgreSQL ignores every message until Sync after an extended-protocol error, a
    /// Query included (postgres.c: ignore_till_sync), so that Query gets no ReadyForQuery.
    @Test func querySkippedAfterAnErrorIsNotOutstanding() {
        var t = TrackerTrace()
        t.clientSent(.parse, statement: "pgstash_1")
        t.clientSent(.bind, .execute)
        t.clientSent(.query)
        t.clientSent(.sync)
        #expect(t.tracker.outstandingSyncs == 2)
        #expect(t.serverSent(.errorResponse, .readyForQuery) == [.server(.errorResponse), .server(.readyForQuery)])
        #expect(t.tracker.isIdle)
        #expect(t.tracker.outstandingSyncs == 0)
    }

    // MARK: Asynchronous messages and COPY

    @Test func asynchronousMessagesPassThroughAnywhere() {
        var t = TrackerTrace()
        t.clientSent(.parse, forward: false, statement: "pgstash_1")
        t.clientSent(.bind, .execute, .sync)
        #expect(t.serverSent(.noticeResponse, .parseComplete, .parameterStatus, .bindComplete, .notificationResponse,
                             .commandComplete, .noticeResponse, .readyForQuery)
                == [.server(.noticeResponse), .server(.parameterStatus), .server(.bindComplete), .server(.notificationResponse),
                    .server(.commandComplete), .server(.noticeResponse), .server(.readyForQuery)])
        #expect(t.tracker.isIdle)
        // …and with nothing in flight at all.
        #expect(t.serverSent(.notificationResponse, .parameterStatus) == [.server(.notificationResponse), .server(.parameterStatus)])
    }

    @Test func noticeDoesNotReleaseMadeUpResponsesEarly() {
        var t = TrackerTrace()
        t.clientSent(.bind)
        t.pgstashAnswers(CannedMessage.closeComplete)
        t.clientSent(.sync)
        #expect(t.serverSent(.noticeResponse) == [.server(.noticeResponse)])
        #expect(t.serverSent(.bindComplete, .readyForQuery) == [.server(.bindComplete), .made(.closeComplete), .server(.readyForQuery)])
    }

    @Test func copyOutInsideAQuery() {
        var t = TrackerTrace()
        t.clientSent(.query)
        #expect(t.serverSent(.copyOutResponse, .copyData, .copyData, .copyDone, .commandComplete, .readyForQuery).map(\.id)
                == [.copyOutResponse, .copyData, .copyData, .copyDone, .commandComplete, .readyForQuery])
        #expect(t.tracker.isIdle)
    }

    @Test func copyInInsideAQuery() {
        var t = TrackerTrace()
        t.clientSent(.query)
        #expect(t.serverSent(.copyInResponse) == [.server(.copyInResponse)])
        #expect(t.tracker.outstandingSyncs == 1)
        #expect(t.serverSent(.commandComplete, .readyForQuery) == [.server(.commandComplete), .server(.readyForQuery)])
        #expect(t.tracker.isIdle)
    }

    @Test func copyFailedInsideAQuery() {
        var t = TrackerTrace()
        t.clientSent(.query)
        #expect(t.serverSent(.copyInResponse, .errorResponse, .readyForQuery).map(\.id)
                == [.copyInResponse, .errorResponse, .readyForQuery])
        #expect(t.tracker.isIdle)
    }

    @Test func unexpectedMessageWithNothingInFlightIsPassedOn() {
        var t = TrackerTrace()
        #expect(t.serverSent(.errorResponse) == [.server(.errorResponse)])   // e.g. FATAL at shutdown
    }

    @Test func resetForgetsEverythingInFlight() {
        var t = TrackerTrace()
        t.clientSent(.parse, .bind, .execute, .sync)
        t.clientSent(.query)
        t.tracker.reset()
        #expect(t.tracker.isIdle)
        #expect(t.tracker.outstandingSyncs == 0)
    }

    @Test func cannedMessagesAreWellFormed() throws {
        #expect(try backendMessage(CannedMessage.parseComplete) == .parseComplete)
        #expect(try backendMessage(CannedMessage.bindComplete) == .bindComplete)
        #expect(try backendMessage(CannedMessage.closeComplete) == .closeComplete)
        #expect(try backendMessage(CannedMessage.readyForQuery(.inTransaction)) == .readyForQuery(.inTransaction))
        #expect(try backendMessage(CannedMessage.error("ERROR", "53300", "too many clients", hint: "wait"))
                == .errorResponse(ErrorFields(severity: "ERROR", sqlState: "53300", message: "too many clients", hint: "wait")))
    }
}

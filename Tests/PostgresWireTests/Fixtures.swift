import PostgresWire

/// One sample of every message kind, with the variants that exercise optional and repeated
/// fields (NULL parameters, empty lists, empty names).
enum Fixtures {
    static let frontend: [FrontendMessage] = [
        .query("SELECT 1"),
        .query(""),
        .parse(name: "", query: "SELECT $1", parameterTypes: [23]),
        .parse(name: "s1", query: "SELECT * FROM orders WHERE id = $1 AND \"storeIdentifier\" = $2",
               parameterTypes: [20, 0]),
        .bind(.init(portal: "", statement: "", parameterFormats: [], parameters: [], resultFormats: [])),
        .bind(.init(portal: "p1", statement: "s1", parameterFormats: [0, 1],
                    parameters: [Array("42".utf8), nil, []], resultFormats: [1])),
        .describe(kind: UInt8(ascii: "S"), name: "s1"),
        .describe(kind: UInt8(ascii: "P"), name: ""),
        .execute(portal: "", maxRows: 0),
        .execute(portal: "p1", maxRows: 100),
        .close(kind: UInt8(ascii: "S"), name: "s1"),
        .close(kind: UInt8(ascii: "P"), name: "p1"),
        .sync,
        .flush,
        .terminate,
        .functionCall(.init(functionOID: 1598, argumentFormats: [1], arguments: [[0, 0, 0, 7], nil],
                            resultFormat: 1)),
        .functionCall(.init(functionOID: 2, argumentFormats: [], arguments: [], resultFormat: 0)),
        .copyData(Array("1\tone\n".utf8)),
        .copyData([]),
        .copyDone,
        .copyFail("client gave up"),
        .passwordData(Array("secret\0".utf8)),
    ]

    static let backend: [BackendMessage] = [
        .authentication(.ok),
        .authentication(.kerberosV5),
        .authentication(.cleartextPassword),
        .authentication(.md5Password(salt: [1, 2, 3, 4])),
        .authentication(.gss),
        .authentication(.gssContinue([9, 8, 7])),
        .authentication(.sspi),
        .authentication(.sasl(mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])),
        .authentication(.saslContinue(Array("r=abc,s=c2FsdA==,i=4096".utf8))),
        .authentication(.saslFinal(Array("v=c2lnbmF0dXJl".utf8))),
        .backendKeyData(processID: 1234, secretKey: -5678),
        .bindComplete,
        .closeComplete,
        .commandComplete(tag: "SELECT 1"),
        .commandComplete(tag: "INSERT 0 3"),
        .copyData([0, 1, 2, 255]),
        .copyDone,
        .copyInResponse(.init(format: 0, columnFormats: [0, 0])),
        .copyOutResponse(.init(format: 1, columnFormats: [1])),
        .copyBothResponse(.init(format: 0, columnFormats: [])),
        .dataRow([Array("1".utf8), nil, []]),
        .dataRow([]),
        .emptyQueryResponse,
        .errorResponse(ErrorFields(severity: "ERROR", sqlState: "42P01",
                                   message: "relation \"ordrs\" does not exist", hint: "check the name")),
        .functionCallResponse([0, 0, 0, 1]),
        .functionCallResponse(nil),
        .negotiateProtocolVersion(newestMinor: 0, unrecognized: ["_pq_.compression"]),
        .negotiateProtocolVersion(newestMinor: 0, unrecognized: []),
        .noData,
        .noticeResponse(ErrorFields(fields: [(UInt8(ascii: "S"), "NOTICE"), (UInt8(ascii: "M"), "hello")])),
        .notificationResponse(processID: 42, channel: "orders", payload: "{\"id\":7}"),
        .parameterDescription([23, 25]),
        .parameterDescription([]),
        .parameterStatus(name: "client_encoding", value: "UTF8"),
        .parseComplete,
        .portalSuspended,
        .readyForQuery(.idle),
        .readyForQuery(.inTransaction),
        .readyForQuery(.failed),
        .rowDescription([
            .init(name: "id", tableOID: 16384, columnAttribute: 1, dataTypeOID: 20,
                  dataTypeSize: 8, typeModifier: -1, format: 0),
            .init(name: "storeIdentifier", tableOID: 16384, columnAttribute: 2, dataTypeOID: 25,
                  dataTypeSize: -1, typeModifier: -1, format: 1),
        ]),
        .rowDescription([]),
    ]

    static let startup: [StartupPacket] = [
        .startup(protocolVersion: StartupCode.protocol3,
                 parameters: [("user", "app"), ("database", "orders"), ("application_name", "prisma")]),
        .startup(protocolVersion: StartupCode.protocol3, parameters: []),
        .startup(protocolVersion: 196_610, parameters: [("user", "u")]),
        .sslRequest,
        .gssEncRequest,
        .cancelRequest(processID: 1234, secretKey: 5678),
    ]

    /// Messages whose body ends in bytes without a length or terminator of their own, so a
    /// shortened or lengthened body is still well formed.
    static func hasOpaqueTail(_ m: FrontendMessage) -> Bool {
        switch m {
        case .copyData, .passwordData: return true
        default: return false
        }
    }

    static func hasOpaqueTail(_ m: BackendMessage) -> Bool {
        switch m {
        case .copyData, .authentication(.gssContinue), .authentication(.saslContinue),
             .authentication(.saslFinal):
            return true
        default: return false
        }
    }
}

/// Parses "51 00 0d" style hex into bytes.
func hex(_ s: String) -> [UInt8] {
    s.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt8($0, radix: 16)! }
}

func encoded(_ m: StartupPacket) -> [UInt8] {
    var b = ByteBuffer()
    m.encode(into: &b)
    return Array(b.readableView)
}

/// Feeds `stream` to a fresh decoder in the given chunks and drains it after each one.
func decodeInChunks<M>(_ stream: [UInt8], cuts: [Int], phase: FrameDecoder.Phase = .messages,
                       _ pull: (inout FrameDecoder) throws -> M?) throws -> [M] {
    var decoder = FrameDecoder(phase: phase, initialCapacity: 16)
    var out: [M] = []
    var from = 0
    for cut in cuts + [stream.count] {
        decoder.feed(stream[from..<cut])
        from = cut
        while let m = try pull(&decoder) { out.append(m) }
    }
    return out
}

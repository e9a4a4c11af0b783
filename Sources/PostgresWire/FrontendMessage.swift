/// A decoded frontend (client → server) message.
///
/// 'p' is ambiguous on the wire: its meaning depends on the authentication exchange in
/// progress, so it decodes to `.passwordData(bytes)` and the auth state machine interprets it
/// (see `PasswordMessage`, `SASLInitialResponse`).
public enum FrontendMessage: Equatable, Sendable {
    case query(String)
    case parse(name: String, query: String, parameterTypes: [Int32])
    case bind(Bind)
    /// Describe of a statement ('S') or portal ('P').
    case describe(kind: UInt8, name: String)
    case execute(portal: String, maxRows: Int32)
    /// Close of a statement ('S') or portal ('P').
    case close(kind: UInt8, name: String)
    case sync
    case flush
    case terminate
    case functionCall(FunctionCall)
    case copyData([UInt8])
    case copyDone
    case copyFail(String)
    case passwordData([UInt8])

    /// Body of Bind: destination portal, source statement, parameter format codes, values
    /// (nil is SQL NULL) and result-column format codes.
    public struct Bind: Equatable, Sendable {
        public var portal: String
        public var statement: String
        public var parameterFormats: [Int16]
        public var parameters: [[UInt8]?]
        public var resultFormats: [Int16]
        public init(portal: String, statement: String, parameterFormats: [Int16],
                    parameters: [[UInt8]?], resultFormats: [Int16]) {
            self.portal = portal; self.statement = statement
            self.parameterFormats = parameterFormats; self.parameters = parameters
            self.resultFormats = resultFormats
        }
    }

    /// Body of FunctionCall (the legacy fast-path interface).
    public struct FunctionCall: Equatable, Sendable {
        public var functionOID: Int32
        public var argumentFormats: [Int16]
        public var arguments: [[UInt8]?]
        public var resultFormat: Int16
        public init(functionOID: Int32, argumentFormats: [Int16], arguments: [[UInt8]?], resultFormat: Int16) {
            self.functionOID = functionOID; self.argumentFormats = argumentFormats
            self.arguments = arguments; self.resultFormat = resultFormat
        }
    }

    public var id: FrontendMessageID {
        switch self {
        case .query: return .query
        case .parse: return .parse
        case .bind: return .bind
        case .describe: return .describe
        case .execute: return .execute
        case .close: return .close
        case .sync: return .sync
        case .flush: return .flush
        case .terminate: return .terminate
        case .functionCall: return .functionCall
        case .copyData: return .copyData
        case .copyDone: return .copyDone
        case .copyFail: return .copyFail
        case .passwordData: return .password
        }
    }

    /// Decodes one body of the given type.
    public static func decode(id rawID: UInt8, body: ArraySlice<UInt8>) throws -> FrontendMessage {
        guard let id = FrontendMessageID(rawValue: rawID) else {
            throw WireDecodingError(messageID: rawID, offset: 0, reason: .unknownMessageType)
        }
        var r = WireReader(body, messageID: rawID)
        let msg: FrontendMessage
        switch id {
        case .query:
            msg = .query(try r.readCString())
        case .parse:
            let name = try r.readCString(), query = try r.readCString()
            let n = try r.readCount()
            var types: [Int32] = []
            types.reserveCapacity(Int(n))
            for _ in 0..<n { types.append(try r.readInt32()) }
            msg = .parse(name: name, query: query, parameterTypes: types)
        case .bind:
            let portal = try r.readCString(), stmt = try r.readCString()
            let formats = try readInt16Array(&r)
            let np = try r.readCount()
            var params: [[UInt8]?] = []
            params.reserveCapacity(Int(np))
            for _ in 0..<np { params.append(try r.readNullableBytes()) }
            let results = try readInt16Array(&r)
            msg = .bind(Bind(portal: portal, statement: stmt, parameterFormats: formats,
                             parameters: params, resultFormats: results))
        case .describe:
            let kind = try r.readUInt8()
            guard kind == UInt8(ascii: "S") || kind == UInt8(ascii: "P") else {
                throw r.fail(.invalidValue("Describe target must be 'S' or 'P'"), at: r.offset - 1)
            }
            msg = .describe(kind: kind, name: try r.readCString())
        case .close:
            let kind = try r.readUInt8()
            guard kind == UInt8(ascii: "S") || kind == UInt8(ascii: "P") else {
                throw r.fail(.invalidValue("Close target must be 'S' or 'P'"), at: r.offset - 1)
            }
            msg = .close(kind: kind, name: try r.readCString())
        case .execute:
            msg = .execute(portal: try r.readCString(), maxRows: try r.readInt32())
        case .sync: msg = .sync
        case .flush: msg = .flush
        case .terminate: msg = .terminate
        case .copyDone: msg = .copyDone
        case .copyData: msg = .copyData(r.readRest())
        case .copyFail: msg = .copyFail(try r.readCString())
        case .password: msg = .passwordData(r.readRest())
        case .functionCall:
            let oid = try r.readInt32()
            let formats = try readInt16Array(&r)
            let na = try r.readCount()
            var args: [[UInt8]?] = []
            for _ in 0..<na { args.append(try r.readNullableBytes()) }
            msg = .functionCall(FunctionCall(functionOID: oid, argumentFormats: formats,
                                             arguments: args, resultFormat: try r.readInt16()))
        }
        try r.expectEnd()
        return msg
    }

    public static func decode(id: UInt8, body: [UInt8]) throws -> FrontendMessage {
        try decode(id: id, body: body[...])
    }

    /// Appends the whole frame (type byte, length, body).
    public func encode(into out: inout ByteBuffer) {
        let start = out.writerIndex
        out.writeByte(id.rawValue)
        out.writeInteger(Int32(0))
        switch self {
        case .query(let q): out.writeCString(q)
        case let .parse(name, query, types):
            out.writeCString(name); out.writeCString(query)
            writeCount(types.count, &out); types.forEach { out.writeInteger($0) }
        case .bind(let b):
            out.writeCString(b.portal); out.writeCString(b.statement)
            writeInt16Array(b.parameterFormats, &out)
            writeCount(b.parameters.count, &out)
            for p in b.parameters { writeNullableBytes(p, &out) }
            writeInt16Array(b.resultFormats, &out)
        case let .describe(kind, name), let .close(kind, name):
            out.writeByte(kind); out.writeCString(name)
        case let .execute(portal, maxRows):
            out.writeCString(portal); out.writeInteger(maxRows)
        case .sync, .flush, .terminate, .copyDone: break
        case .copyData(let d), .passwordData(let d): out.append(d)
        case .copyFail(let m): out.writeCString(m)
        case .functionCall(let f):
            out.writeInteger(f.functionOID)
            writeInt16Array(f.argumentFormats, &out)
            writeCount(f.arguments.count, &out)
            for a in f.arguments { writeNullableBytes(a, &out) }
            out.writeInteger(f.resultFormat)
        }
        out.setInt32(Int32(out.writerIndex - start - 1), at: start + 1)
    }

    public var encoded: [UInt8] {
        var b = ByteBuffer()
        encode(into: &b)
        return Array(b.readableView)
    }
}

func readInt16Array(_ r: inout WireReader) throws -> [Int16] {
    let n = try r.readCount()
    var a: [Int16] = []
    a.reserveCapacity(Int(n))
    for _ in 0..<n { a.append(try r.readInt16()) }
    return a
}

func writeInt16Array(_ a: [Int16], _ out: inout ByteBuffer) {
    writeCount(a.count, &out)
    a.forEach { out.writeInteger($0) }
}

/// Writes an element count. PostgreSQL reads counts as unsigned 16-bit (pq_getmsgint(…, 2)),
/// so up to 65,535 Bind parameters are valid although the docs say Int16.
func writeCount(_ n: Int, _ out: inout ByteBuffer) {
    precondition(n >= 0 && n <= Int(UInt16.max), "\(n) elements do not fit a protocol count")
    out.writeInteger(UInt16(n))
}

func writeNullableBytes(_ p: [UInt8]?, _ out: inout ByteBuffer) {
    if let p { out.writeInteger(Int32(p.count)); out.append(p) } else { out.writeInteger(Int32(-1)) }
}

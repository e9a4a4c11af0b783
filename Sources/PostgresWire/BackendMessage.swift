/// A decoded backend (server → client) message.
public enum BackendMessage: Equatable, Sendable {
    case authentication(Authentication)
    case backendKeyData(processID: Int32, secretKey: Int32)
    case bindComplete
    case closeComplete
    case commandComplete(tag: String)
    case copyData([UInt8])
    case copyDone
    case copyInResponse(CopyResponse)
    case copyOutResponse(CopyResponse)
    case copyBothResponse(CopyResponse)
    case dataRow([[UInt8]?])
    case emptyQueryResponse
    case errorResponse(ErrorFields)
    case functionCallResponse([UInt8]?)
    case negotiateProtocolVersion(newestMinor: Int32, unrecognized: [String])
    case noData
    case noticeResponse(ErrorFields)
    case notificationResponse(processID: Int32, channel: String, payload: String)
    case parameterDescription([Int32])
    case parameterStatus(name: String, value: String)
    case parseComplete
    case portalSuspended
    case readyForQuery(TransactionStatus)
    case rowDescription([FieldDescription])

    /// The Authentication family ('R'), told apart by its Int32 code.
    public enum Authentication: Equatable, Sendable {
        case ok                             // 0
        case kerberosV5                     // 2
        case cleartextPassword              // 3
        case md5Password(salt: [UInt8])     // 5
        case gss                            // 7
        case gssContinue([UInt8])           // 8
        case sspi                           // 9
        case sasl(mechanisms: [String])     // 10
        case saslContinue([UInt8])          // 11
        case saslFinal([UInt8])             // 12
    }

    /// Body of CopyInResponse, CopyOutResponse and CopyBothResponse: overall format
    /// (0 text, 1 binary) and one format code per column.
    public struct CopyResponse: Equatable, Sendable {
        public var format: Int8
        public var columnFormats: [Int16]
        public init(format: Int8, columnFormats: [Int16]) {
            self.format = format; self.columnFormats = columnFormats
        }
    }

    /// One column of a RowDescription, fields in wire order.
    public struct FieldDescription: Equatable, Sendable {
        public var name: String
        public var tableOID: Int32
        public var columnAttribute: Int16
        public var dataTypeOID: Int32
        public var dataTypeSize: Int16
        public var typeModifier: Int32
        public var format: Int16
        public init(name: String, tableOID: Int32, columnAttribute: Int16, dataTypeOID: Int32,
                    dataTypeSize: Int16, typeModifier: Int32, format: Int16) {
            self.name = name; self.tableOID = tableOID; self.columnAttribute = columnAttribute
            self.dataTypeOID = dataTypeOID; self.dataTypeSize = dataTypeSize
            self.typeModifier = typeModifier; self.format = format
        }
    }

    public var id: BackendMessageID {
        switch self {
        case .authentication: return .authentication
        case .backendKeyData: return .backendKeyData
        case .bindComplete: return .bindComplete
        case .closeComplete: return .closeComplete
        case .commandComplete: return .commandComplete
        case .copyData: return .copyData
        case .copyDone: return .copyDone
        case .copyInResponse: return .copyInResponse
        case .copyOutResponse: return .copyOutResponse
        case .copyBothResponse: return .copyBothResponse
        case .dataRow: return .dataRow
        case .emptyQueryResponse: return .emptyQueryResponse
        case .errorResponse: return .errorResponse
        case .functionCallResponse: return .functionCallResponse
        case .negotiateProtocolVersion: return .negotiateProtocolVersion
        case .noData: return .noData
        case .noticeResponse: return .noticeResponse
        case .notificationResponse: return .notificationResponse
        case .parameterDescription: return .parameterDescription
        case .parameterStatus: return .parameterStatus
        case .parseComplete: return .parseComplete
        case .portalSuspended: return .portalSuspended
        case .readyForQuery: return .readyForQuery
        case .rowDescription: return .rowDescription
        }
    }

    /// Decodes one body of the given type; the whole body must be consumed.
    public static func decode(id rawID: UInt8, body: ArraySlice<UInt8>) throws -> BackendMessage {
        guard let id = BackendMessageID(rawValue: rawID) else {
            throw WireDecodingError(messageID: rawID, offset: 0, reason: .unknownMessageType)
        }
        var r = WireReader(body, messageID: rawID)
        let msg: BackendMessage
        switch id {
        case .authentication:
            let code = try r.readInt32()
            switch code {
            case 0: msg = .authentication(.ok)
            case 2: msg = .authentication(.kerberosV5)
            case 3: msg = .authentication(.cleartextPassword)
            case 5: msg = .authentication(.md5Password(salt: try r.readBytes(4)))
            case 7: msg = .authentication(.gss)
            case 8: msg = .authentication(.gssContinue(r.readRest()))
            case 9: msg = .authentication(.sspi)
            case 10:
                var mechs: [String] = []
                while true {
                    let m = try r.readCString()
                    if m.isEmpty { break }
                    mechs.append(m)
                }
                msg = .authentication(.sasl(mechanisms: mechs))
            case 11: msg = .authentication(.saslContinue(r.readRest()))
            case 12: msg = .authentication(.saslFinal(r.readRest()))
            default: throw r.fail(.invalidValue("unknown authentication code \(code)"), at: r.offset - 4)
            }
        case .backendKeyData:
            msg = .backendKeyData(processID: try r.readInt32(), secretKey: try r.readInt32())
        case .bindComplete: msg = .bindComplete
        case .closeComplete: msg = .closeComplete
        case .commandComplete: msg = .commandComplete(tag: try r.readCString())
        case .copyData: msg = .copyData(r.readRest())
        case .copyDone: msg = .copyDone
        case .copyInResponse: msg = .copyInResponse(try readCopyResponse(&r))
        case .copyOutResponse: msg = .copyOutResponse(try readCopyResponse(&r))
        case .copyBothResponse: msg = .copyBothResponse(try readCopyResponse(&r))
        case .dataRow:
            let n = try r.readCount()
            var cols: [[UInt8]?] = []
            cols.reserveCapacity(Int(n))
            for _ in 0..<n { cols.append(try r.readNullableBytes()) }
            msg = .dataRow(cols)
        case .emptyQueryResponse: msg = .emptyQueryResponse
        case .errorResponse: msg = .errorResponse(try ErrorFields.decode(&r))
        case .noticeResponse: msg = .noticeResponse(try ErrorFields.decode(&r))
        case .functionCallResponse: msg = .functionCallResponse(try r.readNullableBytes())
        case .negotiateProtocolVersion:
            let minor = try r.readInt32()
            let countStart = r.offset
            let n = try r.readInt32()
            guard n >= 0 else { throw r.fail(.invalidLength(Int(n)), at: countStart) }
            var opts: [String] = []
            for _ in 0..<n { opts.append(try r.readCString()) }
            msg = .negotiateProtocolVersion(newestMinor: minor, unrecognized: opts)
        case .noData: msg = .noData
        case .notificationResponse:
            msg = .notificationResponse(processID: try r.readInt32(), channel: try r.readCString(),
                                        payload: try r.readCString())
        case .parameterDescription:
            let n = try r.readCount()
            var oids: [Int32] = []
            for _ in 0..<n { oids.append(try r.readInt32()) }
            msg = .parameterDescription(oids)
        case .parameterStatus:
            msg = .parameterStatus(name: try r.readCString(), value: try r.readCString())
        case .parseComplete: msg = .parseComplete
        case .portalSuspended: msg = .portalSuspended
        case .readyForQuery:
            let b = try r.readUInt8()
            guard let s = TransactionStatus(rawValue: b) else {
                throw r.fail(.invalidValue("unknown transaction status \(b)"), at: r.offset - 1)
            }
            msg = .readyForQuery(s)
        case .rowDescription:
            let n = try r.readCount()
            var fields: [FieldDescription] = []
            fields.reserveCapacity(Int(n))
            for _ in 0..<n {
                fields.append(FieldDescription(
                    name: try r.readCString(), tableOID: try r.readInt32(), columnAttribute: try r.readInt16(),
                    dataTypeOID: try r.readInt32(), dataTypeSize: try r.readInt16(),
                    typeModifier: try r.readInt32(), format: try r.readInt16()))
            }
            msg = .rowDescription(fields)
        }
        try r.expectEnd()
        return msg
    }

    public static func decode(id: UInt8, body: [UInt8]) throws -> BackendMessage {
        try decode(id: id, body: body[...])
    }

    /// Appends the whole frame (type byte, length, body).
    public func encode(into out: inout ByteBuffer) {
        let start = out.writerIndex
        out.writeByte(id.rawValue)
        out.writeInteger(Int32(0))
        switch self {
        case .authentication(let a):
            switch a {
            case .ok: out.writeInteger(Int32(0))
            case .kerberosV5: out.writeInteger(Int32(2))
            case .cleartextPassword: out.writeInteger(Int32(3))
            case .md5Password(let salt): out.writeInteger(Int32(5)); out.append(salt)
            case .gss: out.writeInteger(Int32(7))
            case .gssContinue(let d): out.writeInteger(Int32(8)); out.append(d)
            case .sspi: out.writeInteger(Int32(9))
            case .sasl(let mechs):
                out.writeInteger(Int32(10)); mechs.forEach { out.writeCString($0) }; out.writeByte(0)
            case .saslContinue(let d): out.writeInteger(Int32(11)); out.append(d)
            case .saslFinal(let d): out.writeInteger(Int32(12)); out.append(d)
            }
        case let .backendKeyData(pid, key): out.writeInteger(pid); out.writeInteger(key)
        case .bindComplete, .closeComplete, .copyDone, .emptyQueryResponse, .noData,
             .parseComplete, .portalSuspended: break
        case .commandComplete(let tag): out.writeCString(tag)
        case .copyData(let d): out.append(d)
        case .copyInResponse(let c), .copyOutResponse(let c), .copyBothResponse(let c):
            out.writeInteger(c.format); writeInt16Array(c.columnFormats, &out)
        case .dataRow(let cols):
            writeCount(cols.count, &out); cols.forEach { writeNullableBytes($0, &out) }
        case .errorResponse(let f), .noticeResponse(let f): f.encode(into: &out)
        case .functionCallResponse(let v): writeNullableBytes(v, &out)
        case let .negotiateProtocolVersion(minor, opts):
            out.writeInteger(minor); out.writeInteger(Int32(opts.count)); opts.forEach { out.writeCString($0) }
        case let .notificationResponse(pid, channel, payload):
            out.writeInteger(pid); out.writeCString(channel); out.writeCString(payload)
        case .parameterDescription(let oids):
            writeCount(oids.count, &out); oids.forEach { out.writeInteger($0) }
        case let .parameterStatus(name, value): out.writeCString(name); out.writeCString(value)
        case .readyForQuery(let s): out.writeByte(s.rawValue)
        case .rowDescription(let fields):
            writeCount(fields.count, &out)
            for f in fields {
                out.writeCString(f.name); out.writeInteger(f.tableOID); out.writeInteger(f.columnAttribute)
                out.writeInteger(f.dataTypeOID); out.writeInteger(f.dataTypeSize)
                out.writeInteger(f.typeModifier); out.writeInteger(f.format)
            }
        }
        out.setInt32(Int32(out.writerIndex - start - 1), at: start + 1)
    }

    public var encoded: [UInt8] {
        var b = ByteBuffer()
        encode(into: &b)
        return Array(b.readableView)
    }
}

func readCopyResponse(_ r: inout WireReader) throws -> BackendMessage.CopyResponse {
    let format = Int8(bitPattern: try r.readUInt8())
    return BackendMessage.CopyResponse(format: format, columnFormats: try readInt16Array(&r))
}

/// The untyped packets that may open a connection ("Message Formats": StartupMessage,
/// SSLRequest, GSSENCRequest, CancelRequest).
public enum StartupPacket: Equatable, Sendable {
    /// StartupMessage: protocol version and name/value parameters, in the order sent.
    case startup(protocolVersion: Int32, parameters: [(String, String)])
    case sslRequest
    case gssEncRequest
    case cancelRequest(processID: Int32, secretKey: Int32)

    /// Decodes a whole packet, length word included.
    public static func decode(_ packet: ArraySlice<UInt8>) throws -> StartupPacket {
        var r = WireReader(packet)
        let len = try r.readInt32()
        guard len == packet.count else {
            throw WireDecodingError(messageID: nil, offset: 0, reason: .invalidLength(Int(len)))
        }
        let code = try r.readInt32()
        switch code {
        case StartupCode.sslRequest:
            try r.expectEnd(); return .sslRequest
        case StartupCode.gssEncRequest:
            try r.expectEnd(); return .gssEncRequest
        case StartupCode.cancelRequest:
            let pid = try r.readInt32(), key = try r.readInt32()
            try r.expectEnd()
            return .cancelRequest(processID: pid, secretKey: key)
        default:
            guard code >> 16 == 3 else {
                throw WireDecodingError(messageID: nil, offset: 4,
                                        reason: .invalidValue("unsupported protocol version \(code >> 16).\(code & 0xffff)"))
            }
            var params: [(String, String)] = []
            while true {
                let name = try r.readCString()
                if name.isEmpty { break }
                params.append((name, try r.readCString()))
            }
            try r.expectEnd()
            return .startup(protocolVersion: code, parameters: params)
        }
    }

    public func encode(into out: inout ByteBuffer) {
        let start = out.writerIndex
        out.writeInteger(Int32(0))
        switch self {
        case .sslRequest: out.writeInteger(StartupCode.sslRequest)
        case .gssEncRequest: out.writeInteger(StartupCode.gssEncRequest)
        case let .cancelRequest(pid, key):
            out.writeInteger(StartupCode.cancelRequest); out.writeInteger(pid); out.writeInteger(key)
        case let .startup(version, params):
            out.writeInteger(version)
            for (k, v) in params { out.writeCString(k); out.writeCString(v) }
            out.writeByte(0)
        }
        out.setInt32(Int32(out.writerIndex - start), at: start)
    }

    public static func == (a: StartupPacket, b: StartupPacket) -> Bool {
        switch (a, b) {
        case (.sslRequest, .sslRequest), (.gssEncRequest, .gssEncRequest): return true
        case let (.cancelRequest(p1, k1), .cancelRequest(p2, k2)): return p1 == p2 && k1 == k2
        case let (.startup(v1, p1), .startup(v2, p2)):
            return v1 == v2 && p1.count == p2.count && zip(p1, p2).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }
}

/// The fields of an ErrorResponse or NoticeResponse ("Error and Notice Message Fields"),
/// kept in wire order so that a forwarded message can be re-encoded unchanged.
public struct ErrorFields: Equatable, Sendable {
    public var fields: [(code: UInt8, value: String)]

    public init(fields: [(code: UInt8, value: String)]) { self.fields = fields }

    /// An error as pgstash itself reports it: severity, SQLSTATE, message and an optional hint.
    public init(severity: String, sqlState: String, message: String, detail: String? = nil, hint: String? = nil) {
        var f: [(code: UInt8, value: String)] = [
            (UInt8(ascii: "S"), severity), (UInt8(ascii: "V"), severity),
            (UInt8(ascii: "C"), sqlState), (UInt8(ascii: "M"), message),
        ]
        if let detail { f.append((UInt8(ascii: "D"), detail)) }
        if let hint { f.append((UInt8(ascii: "H"), hint)) }
        self.fields = f
    }

    /// The first field with this code ('C' for the SQLSTATE…); nil for a non-ASCII code.
    public subscript(code: Character) -> String? {
        guard let c = code.asciiValue else { return nil }
        return fields.first { $0.code == c }?.value
    }

    public var severity: String? { self["V"] ?? self["S"] }
    public var sqlState: String? { self["C"] }
    public var message: String? { self["M"] }

    static func decode(_ r: inout WireReader) throws -> ErrorFields {
        var f: [(code: UInt8, value: String)] = []
        while true {
            let code = try r.readUInt8()
            if code == 0 { break }
            f.append((code, try r.readCString()))
        }
        return ErrorFields(fields: f)
    }

    func encode(into out: inout ByteBuffer) {
        for (c, v) in fields { out.writeByte(c); out.writeCString(v) }
        out.writeByte(0)
    }

    public static func == (a: ErrorFields, b: ErrorFields) -> Bool {
        a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.code == $1.code && $0.value == $1.value }
    }
}

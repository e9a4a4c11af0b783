/// How a query reached the server: the same SQL answered through the simple and the
/// extended protocol gives different messages, so the two never share an entry.
public enum QueryProtocol: UInt8, Sendable {
    case simple = 1
    case extended = 2
}

/// Everything that decides a cached result's bytes (cache.md §5, architecture.md §6).
public struct CacheKeyInput: Sendable, Equatable {
    public var database: String
    /// The role, or nil when the rule is `shared`.
    public var role: String?
    /// The session's current values of `CacheKey.resultSettings` (lower-case names); a setting
    /// missing here is keyed as unknown, distinct from every value.
    public var settings: [String: String]
    /// The exact statement text (never a fingerprint: it drops constants).
    public var statement: String
    public var protocolKind: QueryProtocol
    /// Parse's parameter type OIDs, as the client sent them (0: let the server infer).
    public var parameterTypes: [UInt32]
    /// Bind's parameter format codes as sent: none (all text), one (for all) or one each.
    public var parameterFormats: [Int16]
    /// Bind's parameter values; nil is SQL NULL.
    public var parameterValues: [[UInt8]?]
    /// Bind's result format codes as sent: none (all text), one (for all) or one per column.
    public var resultFormats: [Int16]
    /// The request asked for the portal's RowDescription (an entry stored without one cannot
    /// answer it).
    public var describesPortal = false

    public init(database: String, role: String?, settings: [String: String], statement: String,
                protocolKind: QueryProtocol = .simple, parameterTypes: [UInt32] = [], parameterFormats: [Int16] = [],
                parameterValues: [[UInt8]?] = [], resultFormats: [Int16] = []) {
        self.database = database
        self.role = role
        self.settings = settings
        self.statement = statement
        self.protocolKind = protocolKind
        self.parameterTypes = parameterTypes
        self.parameterFormats = parameterFormats
        self.parameterValues = parameterValues
        self.resultFormats = resultFormats
    }
}

/// A cache key: a canonical byte string of a `CacheKeyInput` and its SHA-256.
public struct CacheKey: Sendable, Hashable, CustomStringConvertible {
    /// The canonical encoding: versioned, every field tagged and length-prefixed, so that no
    /// two different inputs encode alike.
    public let bytes: [UInt8]
    /// SHA-256 of `bytes`, 64 lower-case hex digits: the `<h>` of `E:<h>` and `L:<h>`.
    public let hash: String

    /// The session settings that change result bytes (lower-case names).
    public static let resultSettings = [
        "bytea_output", "client_encoding", "datestyle", "extra_float_digits", "intervalstyle", "search_path",
        "standard_conforming_strings", "timezone",
    ]

    public init(_ input: CacheKeyInput) {
        bytes = Self.statementPart(input) + Self.executionPart(input)
        hash = Self.hex(SHA256.hash(bytes))
    }

    /// The key's leading bytes: what stays the same for every execution of one statement in
    /// one session context (database, role, settings, text, protocol, parameter types). A proxy
    /// may keep them and add `executionPart` per request.
    public static func statementPart(_ input: CacheKeyInput) -> [UInt8] {
        var w = KeyWriter()
        w.bytes += Array("pgstash-key-1".utf8)
        w.field(1, input.database)
        if let role = input.role { w.field(2, role) } else { w.tag(3) }
        for name in Self.resultSettings {
            if let value = input.settings[name] { w.field(4, name); w.field(5, value) } else { w.field(6, name) }
        }
        w.field(7, input.statement)
        w.tag(8); w.int(Int64(input.protocolKind.rawValue))
        w.tag(9); w.int(Int64(input.parameterTypes.count))
        for oid in input.parameterTypes { w.int(Int64(oid)) }
        return w.bytes
    }

    /// The key's trailing bytes: the parameters, the result formats and the Describe.
    public static func executionPart(_ input: CacheKeyInput) -> [UInt8] {
        executionPart(parameterFormats: input.parameterFormats, parameterValues: input.parameterValues,
                      resultFormats: input.resultFormats, describesPortal: input.describesPortal)
    }

    public static func executionPart(parameterFormats: [Int16], parameterValues: [[UInt8]?], resultFormats: [Int16],
                                     describesPortal: Bool) -> [UInt8] {
        var w = KeyWriter()
        w.bytes.reserveCapacity(40 + parameterValues.reduce(0) { $0 + 16 + ($1?.count ?? 0) })
        w.tag(10); w.int(Int64(parameterValues.count))
        for (i, value) in parameterValues.enumerated() {
            w.int(Int64(Self.parameterFormat(parameterFormats, index: i)))
            if let value { w.int(Int64(value.count)); w.bytes += value } else { w.int(-1) }
        }
        w.tag(11)
        let results = Self.canonicalResultFormats(resultFormats)
        w.int(Int64(results.count))
        for f in results { w.int(Int64(f)) }
        if describesPortal { w.tag(12) }
        return w.bytes
    }

    /// Lower-case hex of a digest.
    public static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: digest.count * 2)
        for (i, b) in digest.enumerated() {
            out[2 * i] = digits[Int(b >> 4)]
            out[2 * i + 1] = digits[Int(b & 15)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hash }

    /// Bind's rule: no code means text, one code applies to every parameter.
    static func parameterFormat(_ codes: [Int16], index: Int) -> Int16 {
        if codes.isEmpty { return 0 }
        if codes.count == 1 { return codes[0] }
        return index < codes.count ? codes[index] : -2
    }

    /// No code means all text; a list whose codes are all equal means the same as that one
    /// code (a list must have one code per column, or the server refuses it).
    static func canonicalResultFormats(_ codes: [Int16]) -> [Int16] {
        if codes.isEmpty { return [0] }
        if codes.allSatisfy({ $0 == codes[0] }) { return [codes[0]] }
        return codes
    }
}

private struct KeyWriter {
    var bytes: [UInt8] = []
    mutating func tag(_ t: UInt8) { bytes.append(t) }
    mutating func int(_ v: Int64) {
        let u = UInt64(bitPattern: v)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: u >> UInt64(shift))) }
    }
    mutating func field(_ t: UInt8, _ s: String) {
        tag(t)
        let utf8 = Array(s.utf8)
        int(Int64(utf8.count))
        bytes += utf8
    }
}

/// Type bytes of frontend (client → server) messages, protocol 3.0 ("Message Formats").
public enum FrontendMessageID: UInt8, Sendable, CaseIterable {
    case bind = 0x42            // 'B'
    case close = 0x43           // 'C'
    case copyData = 0x64        // 'd'
    case copyDone = 0x63        // 'c'
    case copyFail = 0x66        // 'f'
    case describe = 0x44        // 'D'
    case execute = 0x45         // 'E'
    case flush = 0x48           // 'H'
    case functionCall = 0x46    // 'F'
    case parse = 0x50           // 'P'
    /// PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse share 'p'.
    case password = 0x70        // 'p'
    case query = 0x51           // 'Q'
    case sync = 0x53            // 'S'
    case terminate = 0x58       // 'X'
}

/// Type bytes of backend (server → client) messages.
public enum BackendMessageID: UInt8, Sendable, CaseIterable {
    case authentication = 0x52          // 'R'
    case backendKeyData = 0x4B          // 'K'
    case bindComplete = 0x32            // '2'
    case closeComplete = 0x33           // '3'
    case commandComplete = 0x43         // 'C'
    case copyData = 0x64                // 'd'
    case copyDone = 0x63                // 'c'
    case copyInResponse = 0x47          // 'G'
    case copyOutResponse = 0x48         // 'H'
    case copyBothResponse = 0x57        // 'W'
    case dataRow = 0x44                 // 'D'
    case emptyQueryResponse = 0x49      // 'I'
    case errorResponse = 0x45           // 'E'
    case functionCallResponse = 0x56    // 'V'
    case negotiateProtocolVersion = 0x76 // 'v'
    case noData = 0x6E                  // 'n'
    case noticeResponse = 0x4E          // 'N'
    case notificationResponse = 0x41    // 'A'
    case parameterDescription = 0x74    // 't'
    case parameterStatus = 0x53         // 'S'
    case parseComplete = 0x31           // '1'
    case portalSuspended = 0x73         // 's'
    case readyForQuery = 0x5A           // 'Z'
    case rowDescription = 0x54          // 'T'
}

extension FrontendMessageID {
    /// `init(rawValue:)` inlined into the caller: it runs for every message a client sends, and the
    /// synthesized initializer is a call into this module. MessageIDTests checks both
    /// agree on every byte.
    @inlinable @inline(__always)
    public init?(byte: UInt8) {
        switch byte {
        case 0x42: self = .bind
        case 0x43: self = .close
        case 0x64: self = .copyData
        case 0x63: self = .copyDone
        case 0x66: self = .copyFail
        case 0x44: self = .describe
        case 0x45: self = .execute
        case 0x48: self = .flush
        case 0x46: self = .functionCall
        case 0x50: self = .parse
        case 0x70: self = .password
        case 0x51: self = .query
        case 0x53: self = .sync
        case 0x58: self = .terminate
        default: return nil
        }
    }
}

extension BackendMessageID {
    /// `init(rawValue:)` inlined into the caller: it runs for every message a server sends, and the
    /// synthesized initializer is a call into this module. MessageIDTests checks both
    /// agree on every byte.
    @inlinable @inline(__always)
    public init?(byte: UInt8) {
        switch byte {
        case 0x52: self = .authentication
        case 0x4B: self = .backendKeyData
        case 0x32: self = .bindComplete
        case 0x33: self = .closeComplete
        case 0x43: self = .commandComplete
        case 0x64: self = .copyData
        case 0x63: self = .copyDone
        case 0x47: self = .copyInResponse
        case 0x48: self = .copyOutResponse
        case 0x57: self = .copyBothResponse
        case 0x44: self = .dataRow
        case 0x49: self = .emptyQueryResponse
        case 0x45: self = .errorResponse
        case 0x56: self = .functionCallResponse
        case 0x76: self = .negotiateProtocolVersion
        case 0x6E: self = .noData
        case 0x4E: self = .noticeResponse
        case 0x41: self = .notificationResponse
        case 0x74: self = .parameterDescription
        case 0x53: self = .parameterStatus
        case 0x31: self = .parseComplete
        case 0x73: self = .portalSuspended
        case 0x5A: self = .readyForQuery
        case 0x54: self = .rowDescription
        default: return nil
        }
    }
}

/// Request codes of the untyped packets a client may send first ("Message Formats").
public enum StartupCode {
    public static let protocol3: Int32 = 196_608          // 3.0
    public static let sslRequest: Int32 = 80_877_103
    public static let gssEncRequest: Int32 = 80_877_104
    public static let cancelRequest: Int32 = 80_877_102
}

/// Transaction status reported by ReadyForQuery.
public enum TransactionStatus: UInt8, Sendable {
    case idle = 0x49            // 'I'
    case inTransaction = 0x54   // 'T'
    case failed = 0x45          // 'E'
}

extension FrontendMessageID {
    /// The largest body PostgreSQL itself accepts for this type from a client, so a proxy can
    /// refuse an oversized control message from its header alone. postgres.c (SocketBackend)
    /// caps control messages at PQ_SMALL_MESSAGE_LIMIT (10,000 bytes, length word included),
    /// auth.c caps the 'p' messages at PG_MAX_AUTH_TOKEN_LENGTH (65,535), and the rest at
    /// PQ_LARGE_MESSAGE_LIMIT (MaxAllocSize - 1).
    public var postgresMaxBodyLength: Int {
        switch self {
        case .close, .describe, .execute, .flush, .sync, .terminate, .copyDone, .copyFail:
            return 10_000 - 4
        case .password:
            return 65_535 - 4
        case .query, .parse, .bind, .functionCall, .copyData:
            return 0x3fff_ffff - 1 - 4
        }
    }
}

/// What a Describe or Close message names: a prepared statement or a portal.
public enum DescribeTarget: UInt8, Sendable {
    case statement = 0x53       // 'S'
    case portal = 0x50          // 'P'
}

/// SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL uses it ("SASL Authentication"): no
/// channel binding, the user name in the client-first message is ignored (empty).
public struct ScramKeys: Equatable, Sendable {
    public var iterations: Int
    public var salt: [UInt8]
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]

    /// PostgreSQL's default iteration count for new verifiers (`scram_iterations`).
    public static let defaultIterations = 4096

    public init(iterations: Int, salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Derives the keys from a plain password (PBKDF2: keep it off the per-login path).
    public init(password: String, salt: [UInt8], iterations: Int) {
        let salted = Crypto.pbkdf2SHA256(password: Array(password.utf8), salt: salt, iterations: iterations)
        let clientKey = Crypto.hmacSHA256(key: salted, Array("Client Key".utf8))
        self.iterations = iterations
        self.salt = salt
        self.storedKey = Crypto.sha256(clientKey)
        self.serverKey = Crypto.hmacSHA256(key: salted, Array("Server Key".utf8))
    }

    /// Parses a PostgreSQL verifier `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`.
    public init?(verifier: String) {
        guard verifier.hasPrefix("SCRAM-SHA-256$") else { return nil }
        let parts = verifier.dropFirst("SCRAM-SHA-256$".count).split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let a = parts[0].split(separator: ":"), b = parts[1].split(separator: ":")
        guard a.count == 2, b.count == 2, let iter = Int(a[0]), iter > 0,
              let salt = Crypto.unbase64(String(a[1])), let sk = Crypto.unbase64(String(b[0])),
              let svk = Crypto.unbase64(String(b[1])), sk.count == 32, svk.count == 32 else { return nil }
        self.iterations = iter; self.salt = salt; self.storedKey = sk; self.serverKey = svk
    }

    public var verifier: String {
        "SCRAM-SHA-256$\(iterations):\(Crypto.base64(salt))$\(Crypto.base64(storedKey)):\(Crypto.base64(serverKey))"
    }
}

/// Why a SCRAM exchange failed.
public enum ScramError: Error, Equatable, Sendable {
    case malformedMessage(String)
    case channelBindingUnsupported
    /// SCRAM-SHA-256-PLUS was chosen, but the client-first message does not bind.
    case channelBindingRequired
    /// The client can bind but was offered no PLUS mechanism (it was removed on the way).
    case channelBindingDowngrade
    /// The binding data the client sent is not this connection's (a man in the middle).
    case channelBindingMismatch
    case nonceMismatch
    case invalidProof
    case invalidServerSignature
    /// The upstream's salt or iteration count is not the verifier's (its password changed).
    case passThroughMismatch
}

/// Server side of one SCRAM exchange, used to authenticate clients.
///
/// Channel binding (SCRAM-SHA-256-PLUS, RFC 5802 §6, "SASL Authentication"): over TLS the
/// driver passes `channelBinding`, the tls-server-end-point data of pgstash's certificate
/// (RFC 5929), and the mechanism the client chose. The rules are PostgreSQL's
/// (auth-scram.c, read_client_first_message).
public struct ScramServer: Sendable {
    public let keys: ScramKeys
    let serverNonce: String
    /// tls-server-end-point data when the connection runs TLS (PLUS is then offered).
    let channelBinding: [UInt8]?
    /// The client chose SCRAM-SHA-256-PLUS.
    let plus: Bool
    private(set) var clientFirstBare = ""
    private(set) var serverFirst = ""
    private(set) var gs2Header = ""
    private(set) var combinedNonce = ""

    /// `serverNonce` must be fresh random printable text (the driver supplies it).
    public init(keys: ScramKeys, serverNonce: String, channelBinding: [UInt8]? = nil, plus: Bool = false) {
        self.keys = keys
        self.serverNonce = serverNonce
        self.channelBinding = channelBinding
        self.plus = plus
    }

    /// Takes the client-first message; returns the server-first message.
    public mutating func clientFirstReceived(_ message: [UInt8]) throws -> [UInt8] {
        let text = String(decoding: message, as: UTF8.self)
        // gs2-header: "n,," (client without binding), "y,," (client with binding that thinks the
        // server has none), "p=tls-server-end-point,," (binding, with SCRAM-SHA-256-PLUS only).
        let comps = text.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard comps.count == 3 else { throw ScramError.malformedMessage("client-first-message is incomplete") }
        switch comps[0] {
        case "n", "y":
            if plus { throw ScramError.channelBindingRequired }
            // A client that could bind was told there is no binding: someone removed PLUS.
            if comps[0] == "y" && channelBinding != nil { throw ScramError.channelBindingDowngrade }
        case "p=tls-server-end-point":
            guard plus, channelBinding != nil else { throw ScramError.channelBindingUnsupported }
        default:
            if comps[0].hasPrefix("p=") { throw ScramError.channelBindingUnsupported }
            throw ScramError.malformedMessage("client-first-message has no gs2 header")
        }
        gs2Header = "\(comps[0]),\(comps[1]),"
        clientFirstBare = String(comps[2])
        guard let nonce = Self.attribute("r", in: clientFirstBare), !nonce.isEmpty else {
            throw ScramError.malformedMessage("client-first-message has no nonce")
        }
        combinedNonce = nonce + serverNonce
        serverFirst = "r=\(combinedNonce),s=\(Crypto.base64(keys.salt)),i=\(keys.iterations)"
        return Array(serverFirst.utf8)
    }

    /// Takes the client-final message; returns the server-final message on success.
    public func clientFinalReceived(_ message: [UInt8]) throws -> [UInt8] {
        try clientFinalVerified(message).serverFinal
    }

    /// Takes the client-final message; on success returns the server-final message and the
    /// client's ClientKey, recovered from its proof (ClientProof XOR HMAC(StoredKey,
    /// AuthMessage), RFC 5802 §3): with it pgstash can log in upstream as this client without
    /// knowing its password (`ScramPassThroughKeys`).
    public func clientFinalVerified(_ message: [UInt8]) throws -> (serverFinal: [UInt8], clientKey: [UInt8]) {
        let text = String(decoding: message, as: UTF8.self)
        guard let proofRange = text.range(of: ",p=") else { throw ScramError.malformedMessage("client-final-message has no proof") }
        let withoutProof = String(text[..<proofRange.lowerBound])
        guard let cb = Self.attribute("c", in: withoutProof), let nonce = Self.attribute("r", in: withoutProof),
              let proof = Crypto.unbase64(String(text[proofRange.upperBound...])), proof.count == 32 else {
            throw ScramError.malformedMessage("client-final-message is malformed")
        }
        let expectedBinding = Array(gs2Header.utf8) + (plus ? channelBinding ?? [] : [])
        guard let sent = Crypto.unbase64(cb), Crypto.constantTimeEqual(sent, expectedBinding) else {
            throw plus ? ScramError.channelBindingMismatch : ScramError.channelBindingUnsupported
        }
        guard nonce == combinedNonce else { throw ScramError.nonceMismatch }
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let clientSignature = Crypto.hmacSHA256(key: keys.storedKey, authMessage)
        let clientKey = zip(proof, clientSignature).map { $0 ^ $1 }
        guard Crypto.constantTimeEqual(Crypto.sha256(clientKey), keys.storedKey) else { throw ScramError.invalidProof }
        let serverSignature = Crypto.hmacSHA256(key: keys.serverKey, authMessage)
        return (Array("v=\(Crypto.base64(serverSignature))".utf8), clientKey)
    }

    static func attribute(_ name: Character, in text: String) -> String? {
        for part in text.split(separator: ",") where part.count >= 2 && part.first == name && part.dropFirst().first == "=" {
            return String(part.dropFirst(2))
        }
        return nil
    }
}

/// What pgstash keeps to log in upstream as a client whose password it never saw (auth_query
/// users with a SCRAM verifier, as PgBouncer 1.14+ does): the verifier's keys and the
/// ClientKey recovered from the client's proof. Upstream, the proof is computed from
/// ClientKey and StoredKey (= SHA-256(ClientKey)) and the server's signature checked with
/// ServerKey; it works because the upstream stores the same verifier, so its salt and
/// iteration count are the verifier's.
public struct ScramPassThroughKeys: Sendable, Equatable {
    public var keys: ScramKeys
    public var clientKey: [UInt8]

    public init(keys: ScramKeys, clientKey: [UInt8]) {
        self.keys = keys
        self.clientKey = clientKey
    }
}

/// Client side of one SCRAM exchange, used to log in to upstream servers.
public struct ScramClient: Sendable {
    enum Secret: Sendable {
        case password(String)
        case passThrough(ScramPassThroughKeys)
    }

    let secret: Secret
    let clientNonce: String
    /// Where a password's derived keys are remembered between logins.
    let saltedKeys: ScramSaltedKeys
    private var clientFirstBare: String { "n=,r=\(clientNonce)" }
    private var expectedServerSignature: [UInt8] = []

    public init(password: String, clientNonce: String, saltedKeys: ScramSaltedKeys = .shared) {
        self.secret = .password(password)
        self.clientNonce = clientNonce
        self.saltedKeys = saltedKeys
    }

    /// Logs in with a client's recovered keys instead of a password.
    public init(passThrough: ScramPassThroughKeys, clientNonce: String) {
        self.secret = .passThrough(passThrough)
        self.clientNonce = clientNonce
        self.saltedKeys = .shared
    }

    /// The client-first message (data of SASLInitialResponse).
    public var clientFirstMessage: [UInt8] { Array("n,,\(clientFirstBare)".utf8) }

    /// Takes the server-first message (SASLContinue); returns the client-final message.
    public mutating func serverFirstReceived(_ message: [UInt8]) throws -> [UInt8] {
        let serverFirst = String(decoding: message, as: UTF8.self)
        guard let nonce = ScramServer.attribute("r", in: serverFirst), nonce.hasPrefix(clientNonce),
              let saltText = ScramServer.attribute("s", in: serverFirst), let salt = Crypto.unbase64(saltText),
              let iterText = ScramServer.attribute("i", in: serverFirst), let iterations = Int(iterText), iterations > 0 else {
            throw ScramError.malformedMessage("server-first-message is malformed")
        }
        let clientKey: [UInt8], serverKey: [UInt8]
        switch secret {
        case .password(let password):
            let derived = saltedKeys.keys(password: Array(password.utf8), salt: salt, iterations: iterations)
            clientKey = derived.clientKey
            serverKey = derived.serverKey
        case .passThrough(let p):
            // Another salt means another verifier upstream: the recovered key cannot answer it.
            guard salt == p.keys.salt, iterations == p.keys.iterations else { throw ScramError.passThroughMismatch }
            clientKey = p.clientKey
            serverKey = p.keys.serverKey
        }
        let withoutProof = "c=biws,r=\(nonce)"
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let proof = zip(clientKey, Crypto.hmacSHA256(key: Crypto.sha256(clientKey), authMessage)).map { $0 ^ $1 }
        expectedServerSignature = Crypto.hmacSHA256(key: serverKey, authMessage)
        return Array("\(withoutProof),p=\(Crypto.base64(proof))".utf8)
    }

    /// Checks the server-final message (SASLFinal).
    public func serverFinalReceived(_ message: [UInt8]) throws {
        let text = String(decoding: message, as: UTF8.self)
        guard let v = ScramServer.attribute("v", in: text), let sig = Crypto.unbase64(v),
              Crypto.constantTimeEqual(sig, expectedServerSignature) else { throw ScramError.invalidServerSignature }
    }
}

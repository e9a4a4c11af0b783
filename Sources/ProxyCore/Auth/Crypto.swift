import COpenSSL
import Foundation

/// The few primitives SCRAM-SHA-256 and md5 authentication need, from libcrypto.
public enum Crypto {
    public static func hmacSHA256(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 32
        _ = HMAC(EVP_sha256(), key, Int32(key.count), data, data.count, &out, &len)
        return out
    }

    /// SHA-256 through the direct digest calls: OpenSSL 3's one-shot `SHA256()` fetches the
    /// algorithm (locks, a table lookup) on every call, which cost more than hashing a
    /// cache key itself.
    public static func sha256(_ data: [UInt8]) -> [UInt8] {
        sha256(SHA256Prefix(), then: data)
    }

    /// The state of SHA-256 after `data`: a key's constant part hashed once (`CacheKey`'s
    /// statement part), finished many times with `sha256(_:then:)`.
    public static func sha256Prefix(_ data: [UInt8]) -> SHA256Prefix {
        var p = SHA256Prefix()
        _ = copenssl_sha256_update(&p.context, data, data.count)
        return p
    }

    /// SHA-256 of the prefix's bytes followed by `data`.
    public static func sha256(_ prefix: SHA256Prefix, then data: [UInt8]) -> [UInt8] {
        var ctx = prefix.context
        var out = [UInt8](repeating: 0, count: 32)
        _ = copenssl_sha256_update(&ctx, data, data.count)
        _ = copenssl_sha256_final(&out, &ctx)
        return out
    }

    public static func md5Hex(_ data: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 16)
        var len: UInt32 = 16
        _ = EVP_Digest(data, data.count, &out, &len, EVP_md5(), nil)
        return hex(out)
    }

    /// PBKDF2-HMAC-SHA-256, SCRAM's Hi().
    public static func pbkdf2SHA256(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var pw = password.map { CChar(bitPattern: $0) }
        pw.append(0)
        let ok = PKCS5_PBKDF2_HMAC(pw, Int32(password.count), salt, Int32(salt.count),
                                   Int32(iterations), EVP_sha256(), 32, &out)
        precondition(ok == 1, "PKCS5_PBKDF2_HMAC failed")
        return out
    }

    /// Cryptographically secure random bytes (nonces, salts, cancel keys).
    public static func randomBytes(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        precondition(RAND_bytes(&out, Int32(n)) == 1, "RAND_bytes failed")
        return out
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var s = [UInt8]()
        s.reserveCapacity(bytes.count * 2)
        for b in bytes { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
        return String(decoding: s, as: UTF8.self)
    }

    public static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
    public static func unbase64(_ s: String) -> [UInt8]? { Data(base64Encoded: s).map { [UInt8]($0) } }

    /// Compares without leaking the position of the first difference through timing.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var d: UInt8 = 0
        for i in 0..<a.count { d |= a[i] ^ b[i] }
        return d == 0
    }
}

/// A SHA-256 state part-way through a message (`Crypto.sha256Prefix`); a plain value, copied
/// to go on.
public struct SHA256Prefix: @unchecked Sendable {
    var context = SHA256_CTX()
    public init() { _ = copenssl_sha256_init(&context) }
}

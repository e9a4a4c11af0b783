/// PostgreSQL's md5 password scheme: "md5" + md5hex(md5hex(password + user) + salt).
public enum MD5Password {
    /// The stored form, `md5` + md5hex(password + user), as in pg_authid.
    public static func storedHash(user: String, password: String) -> String {
        "md5" + Crypto.md5Hex(Array((password + user).utf8))
    }

    /// What the client sends for a given 4-byte salt. `secret` is a plain password or the
    /// stored `md5…` hash (which is enough to answer the challenge).
    public static func response(user: String, secret: String, salt: [UInt8]) -> String {
        let inner = isStoredHash(secret) ? String(secret.dropFirst(3)) : String(storedHash(user: user, password: secret).dropFirst(3))
        return "md5" + Crypto.md5Hex(Array(inner.utf8) + salt)
    }

    public static func isStoredHash(_ s: String) -> Bool {
        s.utf8.count == 35 && s.hasPrefix("md5") && s.dropFirst(3).allSatisfy { $0.isHexDigit }
    }
}

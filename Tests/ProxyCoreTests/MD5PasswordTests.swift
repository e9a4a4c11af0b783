import ProxyCore
import Testing

/// Expected values computed with Python's hashlib and, for the stored hash, by PostgreSQL 15
/// itself (`SET password_encryption = 'md5'; CREATE ROLE md5user PASSWORD 'password'`).
@Suite("md5 passwords")
struct MD5PasswordTests {
    @Test(arguments: [
        ("user", "password", "md54d45974e13472b5a0be3533de4666414"),
        ("md5user", "password", "md56075a92d7b57d336c40304e09cb7fc28"),   // pg_authid.rolpassword
        ("postgres", "pencil", "md54c21b325d75177d5e9b9789a50ab0c9c"),
        ("alice", "pencil", "md5ee69efad287c7423caf0b3229d71f567"),
    ])
    func storedHash(user: String, password: String, expected: String) {
        #expect(MD5Password.storedHash(user: user, password: password) == expected)
    }

    @Test func responseToASaltFromPlainPasswordOrStoredHash() {
        let expected = "md5a3576f1ae039b8996bc4fc2720f9c71a"   // md5(md5("passworduser") + 01 02 03 04)
        #expect(MD5Password.response(user: "user", secret: "password", salt: [1, 2, 3, 4]) == expected)
        #expect(MD5Password.response(user: "user", secret: "md54d45974e13472b5a0be3533de4666414", salt: [1, 2, 3, 4]) == expected)
        #expect(MD5Password.response(user: "alice", secret: "pencil", salt: [0xDE, 0xAD, 0xBE, 0xEF])
                == "md589ac9dabb63a4f0b959fff1b8cff5d71")
    }

    @Test(arguments: [
        ("md54d45974e13472b5a0be3533de4666414", true),
        ("md54d45974e13472b5a0be3533de466641", false),     // 31 hex digits
        ("md54d45974e13472b5a0be3533de4666414a", false),   // 33
        ("md54d45974e13472b5a0be3533de466641x", false),
        ("sha4d45974e13472b5a0be3533de4666414", false),
        ("password", false),
        ("", false),
    ])
    func isStoredHash(_ s: String, _ expected: Bool) {
        #expect(MD5Password.isStoredHash(s) == expected)
    }
}

import Buffers
import EventLoop
import Glibc
import Testing

extension EventLoopTests {
    /// TLS under `Connection`: both ends in one loop, certificates made with the openssl
    /// command at test time (no key is committed).
    @Suite struct TLSConnection {
        static let dir = "/tmp/pgstash-eventloop-tls-\(getpid())"

        /// A CA and a server certificate for 127.0.0.1 and localhost, made once.
        static let certificates: Bool = {
            let script = """
                set -e; mkdir -p \(dir); cd \(dir)
                openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ca \
                  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
                openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
                printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext
                openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
                  -days 2 -extfile server.ext 2>/dev/null
                """
            return system(script) == 0
        }()

        func contexts() throws -> (server: TLSContext, client: TLSContext) {
            #expect(Self.certificates, "openssl could not make the test certificates")
            let server = try TLSContext.server(certFile: "\(Self.dir)/server.pem", keyFile: "\(Self.dir)/server.key")
            let client = try TLSContext.client(rootCertFile: "\(Self.dir)/ca.pem", verifyPeer: true)
            return (server, client)
        }

        /// 6 MiB each way through an echo whose output is held back by a small send buffer and
        /// a high-water mark: short TLS writes, paused reads with bytes left inside OpenSSL.
        @Test func echoOfAStreamLargerThanTheBuffersIsIntact() throws {
            let loop = try EventLoop()
            let (serverContext, clientContext) = try contexts()
            let payload = pattern(count: 6 << 20, seed: 11)
            var received = ByteBuffer()
            var accepted: Connection?
            var handshakes = 0

            let echo = Callbacks()
            echo.onRead = { c in
                c.send(c.inbound)
                c.inbound.clear()
                if c.isOverHighWaterMark { c.pauseReading() }
            }
            echo.onDrain = { c in c.resumeReading() }
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                setIntOption(fd, SOL_SOCKET, SO_SNDBUF, 16 << 10)
                let c = try! Connection(loop: loop, fd: fd, highWaterMark: 64 << 10)
                c.delegate = echo
                accepted = c
                c.startTLS(serverContext, role: .server)
            }

            let client = TLSCallbacks()
            client.onConnect = { c in c.startTLS(clientContext, role: .client(serverName: "localhost", verifyHost: "127.0.0.1")) }
            client.onHandshake = { c in
                handshakes += 1
                #expect(c.tlsSummary?.hasPrefix("TLSv1.3/") == true)
                c.send(payload)
            }
            client.onRead = { c in
                received.append(c.inbound.readableView)
                c.inbound.clear()
                // Read slowly at times, so that the echo's records wait in our socket and in OpenSSL.
                if received.readableBytes % 3 == 0 { c.pauseReading(); loop.schedule(after: 0.001) { c.resumeReading() } }
                if received.readableBytes >= payload.count { loop.stop() }
            }
            client.onClose = { _, error in
                Issue.record("client closed early: \(String(describing: error))")
                loop.stop()
            }
            let conn = try Connection.connect(loop: loop, host: "127.0.0.1", port: listener.port)
            conn.delegate = client
            runLoop(loop, timeout: 60)
            #expect(handshakes == 1)
            #expect(received.readableBytes == payload.count)
            #expect(Array(received.readableView) == payload)
            #expect(accepted?.isTLS == true)
            conn.delegate = nil
            conn.close()
            accepted?.close()
            listener.close()
        }

        /// A read event stops at `readCapPerEvent`; records that do not line up with the cap
        /// leave decrypted bytes inside OpenSSL while the socket is empty, where epoll cannot
        /// see them. They must still be delivered (a read scheduled before the loop waits).
        @Test func bytesLeftInsideOpenSSLAtTheReadCapAreDelivered() throws {
            let loop = try EventLoop()
            let (serverContext, clientContext) = try contexts()
            // 1000 bytes, then exactly one cap: the cap ends 1000 bytes into the last record.
            let total = 1000 + Connection.readCapPerEvent
            let payload = pattern(count: total, seed: 5)
            var accepted: Connection?
            let server = TLSCallbacks()
            server.onHandshake = { c in
                c.send(Array(payload[0..<1000]))
                c.send(Array(payload[1000...]))
            }
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                let c = try! Connection(loop: loop, fd: fd, highWaterMark: 4 << 20)
                c.delegate = server
                accepted = c
                c.startTLS(serverContext, role: .server)
            }
            var received: [UInt8] = []
            let client = TLSCallbacks()
            client.onConnect = { c in
                setIntOption(c.fd, SOL_SOCKET, SO_RCVBUF, 2 << 20)
                c.startTLS(clientContext, role: .client(serverName: nil, verifyHost: "127.0.0.1"))
            }
            client.onHandshake = { c in
                // Let everything arrive first, so that one read event meets all of it.
                c.pauseReading()
                loop.schedule(after: 0.3) { c.resumeReading() }
            }
            client.onRead = { c in
                received += Array(c.inbound.readableView)
                c.inbound.clear()
                if received.count >= total { loop.stop() }
            }
            let conn = try Connection.connect(loop: loop, host: "127.0.0.1", port: listener.port)
            conn.delegate = client
            runLoop(loop, timeout: 10)
            #expect(received.count == total)
            #expect(received == payload)
            conn.delegate = nil
            conn.close()
            accepted?.close()
            listener.close()
        }

        /// verify-full semantics: a certificate for 127.0.0.1 and localhost does not name
        /// 127.0.0.2, and the handshake fails with OpenSSL's reason.
        @Test func hostNameMismatchFailsTheHandshake() throws {
            let loop = try EventLoop()
            let (serverContext, clientContext) = try contexts()
            let listener = try Listener(loop: loop, host: "127.0.0.1", port: 0) { fd in
                let c = try! Connection(loop: loop, fd: fd)
                c.delegate = Callbacks()
                c.userData = c.delegate as AnyObject
                c.startTLS(serverContext, role: .server)
            }
            var failure: IOError?
            let client = TLSCallbacks()
            client.onConnect = { c in c.startTLS(clientContext, role: .client(serverName: nil, verifyHost: "127.0.0.2")) }
            client.onHandshake = { _ in Issue.record("handshake succeeded for the wrong host"); loop.stop() }
            client.onClose = { _, error in failure = error; loop.stop() }
            let conn = try Connection.connect(loop: loop, host: "127.0.0.1", port: listener.port)
            conn.delegate = client
            runLoop(loop, timeout: 20)
            #expect(failure?.isTLS == true)
            #expect(failure?.message.contains("IP address mismatch") == true, "\(String(describing: failure))")
            listener.close()
        }
    }
}

/// `Callbacks` plus the end of the TLS handshake.
final class TLSCallbacks: ConnectionDelegate {
    var onRead: (Connection) -> Void = { _ in }
    var onConnect: (Connection) -> Void = { _ in }
    var onHandshake: (Connection) -> Void = { _ in }
    var onClose: (Connection, IOError?) -> Void = { _, _ in }
    func connectionDidRead(_ c: Connection) { onRead(c) }
    func connectionDidConnect(_ c: Connection) { onConnect(c) }
    func connectionDidCompleteTLSHandshake(_ c: Connection) { onHandshake(c) }
    func connectionDidClose(_ c: Connection, error: IOError?) { onClose(c, error) }
}

import EventLoop
import Glibc
import ProxyCore

/// The client listener: binding, accepting, stopping. Accepting is `EventLoop.Listener`'s:
/// when accept fails (out of descriptors or memory) it stops watching the socket for a
/// growing pause instead of spinning on the level-triggered event, and reports once per pause.
extension ProxyServer {
    public func start() throws {
        clientTLSContext = try Self.clientFacingContext(config.tls)
        let listener = try Listener(loop: loop, host: config.listen.host, port: config.listen.port) { [weakRef] fd in
            weakRef.target?.clientAccepted(fd)
        }
        listener.onError = { [weakRef] error, pause in
            weakRef.target?.log.error("accept failed: \(error); not accepting new clients for \(pause) s")
        }
        listenFD = listener.fd
        boundPort = listener.port
        acceptor = listener
        loop.setBusyPoll(limitNanoseconds: config.listen.busyPollNanoseconds)
        scheduleJanitor()
        startMetrics()
        startCache()
        log.info("listening on \(config.listen.host):\(boundPort)")
    }

    func stopAccepting() {
        guard accepting else { return }
        accepting = false
        (acceptor as? Listener)?.close()
    }

    private func clientAccepted(_ fd: Int32) {
        guard accepting else { return Socket.close(fd) }
        let id = nextClientID
        nextClientID += 1
        do {
            let tooMany = clients.count >= config.listen.maxClients
            let c = try ClientHandler(id: ClientID(id), fd: fd, server: self, reject: tooMany)
            c.admin.peer = socketEndpoint(fd, peer: true)
            c.admin.connectedMonotonic = loop.now
            clients[id] = c
            c.start()
        } catch {
            log.error("cannot register client: \(error)")
        }
    }
}

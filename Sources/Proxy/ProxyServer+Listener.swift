import EventLoop
import Glibc
import ProxyCore

/// The client listener: binding, accepting, stopping.
extension ProxyServer {
    public func start() throws {
        listenFD = try Socket.listenTCP(host: config.listen.host, port: config.listen.port)
        boundPort = try Socket.localPort(of: listenFD)
        let a = Acceptor(server: self)
        acceptor = a
        listenRegistration = try loop.register(fd: listenFD, interest: .readable, handler: a)
        scheduleJanitor()
        log.info("listening on \(config.listen.host):\(boundPort)")
    }

    func stopAccepting() {
        guard accepting else { return }
        accepting = false
        if let r = listenRegistration { loop.unregister(r) }
        Socket.close(listenFD)
    }

    func acceptReady() {
        while accepting {
            let fd: Int32
            do {
                guard case .processed(let f) = try Socket.accept(listenFD) else { return }
                fd = f
            } catch {
                log.error("accept failed: \(error)")   // EMFILE and friends: try again next event
                return
            }
            Socket.setNoDelay(fd)
            let id = nextClientID
            nextClientID += 1
            do {
                let tooMany = clients.count >= config.listen.maxClients
                let c = try ClientHandler(id: ClientID(id), fd: fd, server: self, reject: tooMany)
                clients[id] = c
                c.start()
            } catch {
                Socket.close(fd)
                log.error("cannot register client: \(error)")
            }
        }
    }
}

private final class Acceptor: IOHandler {
    unowned let server: ProxyServer
    init(server: ProxyServer) { self.server = server }
    func handleEvent(readable: Bool, writable: Bool, hangup: Bool) { server.acceptReady() }
}

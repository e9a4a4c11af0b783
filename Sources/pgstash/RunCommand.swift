import ArgumentParser
import EventLoop
import Glibc
import Proxy
import ProxyConfig

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the proxy in the foreground (the default).")

    @Option(name: .long, help: "Path of proxy.conf.")
    var config: String?

    @Option(name: .customShort("c"), help: "Override a setting: -c section.key=value (repeatable).")
    var set: [String] = []

    @Option(name: .long, help: "Listen address HOST:PORT (with --upstream, no config file needed).")
    var listen: String?

    @Option(name: .long, help: "Upstream postgresql://USER:PASSWORD@HOST:PORT/DB.")
    var upstream: String?

    @Flag(name: .long, help: "Log every client and server event.")
    var verbose = false

    func loadConfiguration() throws -> ProxyConfiguration {
        do {
            if let upstream {
                return try ConfigLoader.fromUpstream(url: upstream, listen: listen, overrides: set)
            }
            guard let config else {
                throw ValidationError("give --config FILE, or --listen HOST:PORT --upstream postgresql://USER:PASSWORD@HOST:PORT/DB")
            }
            return try ConfigLoader.load(path: config, overrides: set, listen: listen)
        } catch let errors as ConfigErrors {
            printError("\(errors)")
            throw ExitCode(1)
        }
    }

    func run() throws {
        let cfg = try loadConfiguration()
        let loop = try EventLoop()
        let log = Logger(cfg.log, verbose: verbose)
        let server = ProxyServer(config: cfg, loop: loop, log: log)
        server.verboseLogging = verbose
        do { try server.start() } catch let error as TLSError {
            printError("pgstash: TLS: \(error)")
            throw ExitCode(1)
        } catch {
            printError("pgstash: cannot listen on \(cfg.listen.host):\(cfg.listen.port): \(error)")
            throw ExitCode(1)
        }
        server.onDrained = { loop.stop() }
        server.admin.version = "pgstash \(PgStash.version)"
        if let path = config {
            // The console's RELOAD re-reads the file as SIGHUP does.
            server.admin.loadConfiguration = { [set, listen] in try ConfigLoader.load(path: path, overrides: set, listen: listen) }
        }
        // SIGHUP reloads proxy.conf (an invalid file is rejected whole); SIGTERM drains;
        // SIGINT stops at once.
        let signals = try SignalSource(loop: loop, signals: [SIGHUP, SIGTERM, SIGINT]) { sig in
            switch sig {
            case SIGHUP:
                guard let load = server.admin.loadConfiguration else { return server.log.warning("SIGHUP ignored: running without a config file") }
                do { try server.reload(try load()) } catch {
                    server.reloadRejected(error, source: "SIGHUP")
                }
            case SIGTERM:
                server.log.info("SIGTERM: no new clients; exiting once open transactions finish")
                server.shutdown(graceful: true)
            default:
                server.log.info("SIGINT: exiting")
                server.shutdown(graceful: false)    // onDrained stops the loop (after leaving the cache)
            }
        }
        loop.run()
        signals.cancel()
    }
}

func printError(_ s: String) {
    let line = s.hasSuffix("\n") ? s : s + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

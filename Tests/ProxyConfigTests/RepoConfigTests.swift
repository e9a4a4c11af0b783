import Testing
import Foundation
@testable import ProxyConfig

/// The repository root, found from this file's path (Tests/ProxyConfigTests/…).
private let repositoryRoot: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

@Suite struct RepoConfigTests {
    @Test func repositoryProxyConfLoads() throws {
        let config = try ConfigLoader.load(path: repositoryRoot + "/proxy.conf")
        #expect(config.listen.host == "127.0.0.1")
        #expect(config.listen.port == 6432)
        let app = try #require(config.databases["app"])
        #expect(app.dbname == "app")
        #expect(app.port == 5432)
        #expect(app.user == "postgres")
        #expect(app.password == "secret")
        #expect(config.redis.port == 6379)
        #expect(config.auth.type == .scramSHA256)
        #expect(config.auth.users["app"] == "app")
        #expect(config.cache.tiers == [
            CacheTier(name: "L1", ttl: 300), CacheTier(name: "L2", ttl: 900),
            CacheTier(name: "L3", ttl: 1800), CacheTier(name: "L4", ttl: 120),
        ])
        let tiers = Dictionary(config.cache.rules.map { ($0.name, $0.tier) }, uniquingKeysWith: { a, _ in a })
        #expect(tiers["orders"] == "L1")
        #expect(tiers["dashboard-stats"] == "L3")
        #expect(tiers["search"] == "L4")
        #expect(tiers["assignments"] == "L2")
        #expect(config.cache.enabled)
    }

    @Test func repositoryProxyConfSetsEveryDocumentedDefault() throws {
        let config = try ConfigLoader.load(path: repositoryRoot + "/proxy.conf")
        #expect(config.listen == ListenConfig())
        #expect(config.pool == PoolConfig())
        #expect(config.redis == RedisConfig())
        #expect(config.metrics == MetricsConfig())
        #expect(config.tls == TLSConfig())
        #expect(config.cache.maxResultBytes == CacheConfig().maxResultBytes)
    }

    @Test func repositoryProxyConfTakesOverrides() throws {
        let config = try ConfigLoader.load(
            path: repositoryRoot + "/proxy.conf", overrides: ["pool.max_upstream=50", "cache.enabled=false"],
            listen: "127.0.0.1:7432")
        #expect(config.pool.maxUpstream == 50)
        #expect(!config.cache.enabled)
        #expect(config.listen.port == 7432)
    }

    @Test func missingConfigFile() {
        do {
            _ = try ConfigLoader.load(path: "/nonexistent/proxy.conf")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "/nonexistent/proxy.conf: cannot read: No such file or directory")
        }
    }
}

@Suite struct RobustnessTests {
    /// Every prefix of the example file, and the file with each byte dropped in turn, either
    /// loads or reports errors whose lines exist: no crash, no line past the end.
    @Test func damagedExampleFileNeverCrashes() throws {
        let text = try String(contentsOfFile: repositoryRoot + "/proxy.conf", encoding: .utf8)
        let bytes = Array(text.utf8)
        let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
        var variants: [[UInt8]] = []
        for cut in stride(from: 0, to: bytes.count, by: 37) {
            variants.append(Array(bytes[..<cut]))
            var dropped = bytes
            dropped.remove(at: cut)
            variants.append(dropped)
        }
        var rejected = 0
        for variant in variants {
            do {
                _ = try ConfigLoader.parse(
                    text: String(decoding: variant, as: UTF8.self), fileName: "proxy.conf",
                    baseDirectory: repositoryRoot)
            } catch {
                rejected += 1
                for e in error.errors where e.file == "proxy.conf" {
                    #expect((e.line ?? 1) <= lineCount, "\(e)")
                }
            }
        }
        #expect(rejected > 0)
    }
}

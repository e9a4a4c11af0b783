// swift-tools-version: 6.0
import Foundation
import PackageDescription

/// The hot-path modules skip Swift's run-time exclusivity checks in release builds: they
/// are single-threaded by design (one event loop), and the checks showed in profiles. They
/// are optimized across modules (the relay inlines buffer and wire helpers), and a local's
/// object may go as soon as its last use (no lexical lifetimes: fewer retains and releases
/// kept only to reach the end of a scope; nothing in these modules reaches an object through
/// an unowned reference or raw pointer after its owner's last use — see docs/benchmarks.md).
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked", "-Xfrontend", "-function-sections",
                                              "-cross-module-optimization",
                                              "-Xfrontend", "-enable-lexical-lifetimes=false"],
                                             .when(configuration: .release))]

/// The functions a relayed request runs through, placed side by side at the front of the
/// program's code (linker/README.md): fewer instruction-cache sets and pages to share.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
let hotLayout: [LinkerSetting] = [.unsafeFlags(["-Xlinker", "--section-ordering-file=\(packageRoot)/linker/hot-functions.txt"],
                                               .when(configuration: .release))]

let package = Package(
    name: "pgstash",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pgstash", targets: ["pgstash"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // C libraries from Debian (see docs/architecture.md and shared platform notes).
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CPgQuery", providers: [.apt(["libpg-query-dev"])]),
        .target(name: "CLinux"),

        // Pure modules: bytes and events in, values and actions out.
        .target(name: "Buffers", swiftSettings: hotPath),
        .target(name: "PostgresWire", dependencies: ["Buffers"], swiftSettings: hotPath),
        .target(name: "ProxyConfig"),
        .target(name: "SQLAnalysis", dependencies: ["CPgQuery"]),
        .target(name: "CachePolicy", dependencies: ["SQLAnalysis", "ProxyConfig"]),
        .target(name: "ProxyCore", dependencies: ["PostgresWire", "ProxyConfig", "SQLAnalysis", "CachePolicy", "COpenSSL"],
                swiftSettings: hotPath),
        // Counters, gauges, histograms and their Prometheus text (docs/metrics.md).
        .target(name: "Metrics", swiftSettings: hotPath),

        // I/O.
        .target(name: "EventLoop", dependencies: ["CLinux", "Buffers", "COpenSSL"], swiftSettings: hotPath),
        .target(name: "RedisStore", dependencies: ["EventLoop", "CHiredis", "ProxyConfig"]),
        .target(name: "Proxy", dependencies: [
            "CachePolicy", "CLibPQ", "EventLoop", "Metrics", "PostgresWire", "ProxyConfig", "ProxyCore", "RedisStore", "SQLAnalysis",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: hotPath),
        .executableTarget(name: "pgstash", dependencies: [
            "CachePolicy", "Proxy", "ProxyConfig", "SQLAnalysis", "EventLoop",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], linkerSettings: hotLayout),

        // Micro-benchmarks of the hot paths (bench/README.md).
        .executableTarget(name: "pgstash-bench", dependencies: ["Metrics", "PostgresWire", "ProxyCore", "SQLAnalysis"],
                          path: "bench/micro"),

        .testTarget(name: "PostgresWireTests", dependencies: ["PostgresWire"]),
        .testTarget(name: "ProxyConfigTests", dependencies: ["ProxyConfig"]),
        .testTarget(name: "SQLAnalysisTests", dependencies: ["SQLAnalysis"]),
        .testTarget(name: "ProxyCoreTests", dependencies: ["ProxyCore", "PostgresWire"]),
        .testTarget(name: "EventLoopTests", dependencies: ["EventLoop"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics"]),
        .testTarget(name: "ProxyTests", dependencies: ["Proxy", "ProxyConfig"]),
        .testTarget(name: "CachePolicyTests", dependencies: ["CachePolicy", "SQLAnalysis", "ProxyConfig"]),
        .testTarget(name: "RedisStoreTests", dependencies: ["RedisStore", "EventLoop", "CHiredis"]),
        .testTarget(name: "IntegrationTests", dependencies: ["CachePolicy", "CLibPQ", "CHiredis", "PostgresWire", "ProxyCore",
                                                           "SQLAnalysis"],
                    exclude: ["clients", "repros"]),
    ]
)

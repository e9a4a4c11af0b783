import Glibc

/// Figures about this process from `/proc/self` (Linux), read at scrape time.
struct ProcessStats {
    var residentBytes: Double?
    var openFDs: Double?
    var maxFDs: Double?
    var cpuSeconds: Double?

    static func read() -> ProcessStats {
        var s = ProcessStats()
        // statm: size resident shared text lib data dt, in pages.
        if let statm = readSmallFile("/proc/self/statm") {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Double(fields[1]) { s.residentBytes = pages * Double(sysconf(Int32(_SC_PAGESIZE))) }
        }
        s.openFDs = countOpenFDs()
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 { s.maxFDs = Double(limit.rlim_cur) }
        // stat: fields after the command name in parentheses; utime and stime are the 14th and
        // 15th fields of the whole line (proc(5)), in clock ticks.
        if let stat = readSmallFile("/proc/self/stat"), let close = stat.lastIndex(of: ")") {
            let rest = stat[stat.index(after: close)...].split(separator: " ")
            if rest.count > 12, let u = Double(rest[11]), let k = Double(rest[12]) {
                s.cpuSeconds = (u + k) / Double(sysconf(Int32(_SC_CLK_TCK)))
            }
        }
        return s
    }

    /// Entries of /proc/self/fd, less the one the listing itself holds open.
    private static func countOpenFDs() -> Double? {
        guard let dir = opendir("/proc/self/fd") else { return nil }
        defer { closedir(dir) }
        var n = 0
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { n += 1 }
        }
        return Double(max(n - 1, 0))
    }

    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n], as: UTF8.self)
    }
}

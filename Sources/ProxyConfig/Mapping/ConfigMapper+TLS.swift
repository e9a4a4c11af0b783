extension ConfigMapper {
    /// `[tls]`: what clients are offered and required (docs/tls.md).
    mutating func tls(_ t: TOMLTable) -> TLSConfig {
        let p = "tls"
        checkKeys(t, path: p, allowed: ConfigKeys.tls)
        var c = TLSConfig()
        if let v = choice(t, "client_mode", in: p, as: SSLMode.self) { c.clientMode = v }
        c.certFile = readablePath(t, "cert_file", in: p)
        c.keyFile = readablePath(t, "key_file", in: p)
        c.caFile = readablePath(t, "ca_file", in: p)
        if let v = string(t, "ciphers", in: p, nonEmpty: true) { c.ciphers = v }
        if let names = stringArray(t, "protocols", in: p) {
            if let range = protocolRange(names, key: "tls.protocols") { c.protocols = range }
        }
        if (t["cert_file"] == nil) != (t["key_file"] == nil) {
            let (set, missing) = t["cert_file"] == nil ? ("key_file", "cert_file") : ("cert_file", "key_file")
            report(origins["tls.\(set)"], key: "tls.\(missing)", "tls.\(set) is set without tls.\(missing)")
        }
        let mode = "tls.client_mode = \"\(c.clientMode.rawValue)\""
        if c.clientMode.requiresTLS, t["cert_file"] == nil || t["key_file"] == nil {
            report(origins["tls.client_mode"], key: "tls.cert_file",
                "\(mode) needs tls.cert_file and tls.key_file (the certificate pgstash presents to clients)")
        }
        if c.clientMode.verifiesCertificate, t["ca_file"] == nil {
            report(origins["tls.client_mode"], key: "tls.ca_file",
                "\(mode) needs tls.ca_file (the CAs client certificates must chain to)")
        }
        return c
    }

    /// `sslmode`, `sslrootcert`, `sslcert`, `sslkey` of a `[databases.NAME]` entry, as libpq's.
    mutating func upstreamTLS(_ t: TOMLTable, path p: String) -> UpstreamTLSConfig {
        var c = UpstreamTLSConfig()
        if let v = choice(t, "sslmode", in: p, as: SSLMode.self) { c.sslmode = v }
        if let root = string(t, "sslrootcert", in: p, nonEmpty: true) {
            c.sslrootcert = root == "system" ? root : checkedReadable(root, key: Self.join(p, "sslrootcert"))
        }
        c.sslcert = readablePath(t, "sslcert", in: p)
        c.sslkey = readablePath(t, "sslkey", in: p)
        if (t["sslcert"] == nil) != (t["sslkey"] == nil) {
            let (set, missing) = t["sslcert"] == nil ? ("sslkey", "sslcert") : ("sslcert", "sslkey")
            report(origins[Self.join(p, set)], key: Self.join(p, missing),
                "\(Self.join(p, set)) is set without \(Self.join(p, missing))")
        }
        if c.sslmode.verifiesCertificate, t["sslrootcert"] == nil {
            let key = Self.join(p, "sslmode")
            report(origins[key], key: Self.join(p, "sslrootcert"),
                "\(key) = \"\(c.sslmode.rawValue)\" needs \(Self.join(p, "sslrootcert")) (a PEM file of CAs, or \"system\")")
        }
        return c
    }

    /// A file path resolved against the config file's folder, reported when unreadable.
    private mutating func readablePath(_ t: TOMLTable, _ key: String, in p: String) -> String? {
        guard let raw = string(t, key, in: p, nonEmpty: true) else { return nil }
        return checkedReadable(raw, key: Self.join(p, key))
    }

    private mutating func checkedReadable(_ raw: String, key: String) -> String {
        let path = FileReader.resolve(raw, against: baseDirectory)
        if case .failure(let failure) = FileReader.read(path) {
            report(origins[key], key: key, "\(key): cannot read \(path): \(failure.reason)")
        }
        return path
    }

    /// `["TLSv1.2", "TLSv1.3"]` → the range they span, which must have no gap.
    private mutating func protocolRange(_ names: [String], key: String) -> ClosedRange<TLSProtocol>? {
        var versions: [TLSProtocol] = []
        for name in names {
            guard let v = TLSProtocol.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else {
                let known = TLSProtocol.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                report(origins[key], key: key, "\(key): unknown or unsupported protocol \"\(name)\" (supported: \(known))")
                return nil
            }
            versions.append(v)
        }
        guard let low = versions.min(), let high = versions.max() else {
            report(origins[key], key: key, "\(key) must name at least one protocol")
            return nil
        }
        return low ... high
    }
}


import CPgQuery
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The entry point: parses SQL with PostgreSQL's own parser (libpg_query) and analyses each
/// statement. Pure and thread-safe (libpg_query keeps its memory per thread); it performs one
/// parser call per query string, plus one per PREPARE for the prepared query.
public enum SQLAnalyzer {
    /// Analyses a simple-protocol query string (possibly several statements) or the text of a
    /// Parse message (`$n` parameters allowed). Never traps: SQL that does not parse, or a
    /// parse tree that cannot be read, is an `.error`.
    public static func analyze(_ sql: String) -> Analysis {
        let size = sql.utf8.count
        guard size > deepTextThreshold else { return analyzeHere(sql) }
        // libpg_query recurses once per operator of a chain (`1+1+…`, about 64 bytes of stack
        // per byte of text) with no depth check of its own, and so does the reading of its
        // tree: a long text runs on a thread whose stack is sized to it.
        let stack = 16 << 20 + size * stackBytesPerTextByte
        guard stack <= maximumStack else {
            return .error(message: "the statement is too large for pgstash to analyse (\(size) bytes)", position: -1)
        }
        return onThread(stackSize: stack) { analyzeHere(sql) } ?? .error(message: "pgstash could not start an analysis thread", position: -1)
    }

    /// Texts up to this size are analysed on the caller's stack (8 MB on the loop thread).
    static let deepTextThreshold = 16 * 1024
    static let stackBytesPerTextByte = 256
    /// 1 GB of address space (committed only as used): texts up to about 4 MB.
    static let maximumStack = 1 << 30

    /// Runs `body` on a new thread with a stack of `stackSize` bytes and waits for it.
    static func onThread(stackSize: Int, _ body: @escaping () -> Analysis) -> Analysis? {
        final class Box { var body: () -> Analysis; var result: Analysis?; init(_ b: @escaping () -> Analysis) { body = b } }
        let box = Box(body)
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        guard pthread_attr_setstacksize(&attr, stackSize) == 0 else { return nil }
        var thread = pthread_t()
        let arg = Unmanaged.passRetained(box).toOpaque()
        let rc = pthread_create(&thread, &attr, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.result = box.body()
            return nil
        }, arg)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(arg).release()
            return nil
        }
        pthread_join(thread, nil)
        return box.result
    }

    private static func analyzeHere(_ sql: String) -> Analysis {
        sql.withCString { cString in
            let count = strlen(cString)
            let query = UnsafeBufferPointer(start: UnsafeRawPointer(cString).assumingMemoryBound(to: UInt8.self),
                                            count: count)
            let result = pg_query_parse(cString)
            defer { pg_query_free_parse_result(result) }
            if let error = result.error {
                let message = error.pointee.message.map { String(cString: $0) } ?? "syntax error"
                return .error(message: message, position: Int(error.pointee.cursorpos))
            }
            guard let tree = result.parse_tree else { return .error(message: "the parser returned no tree", position: -1) }
            let json = UnsafeBufferPointer(start: UnsafeRawPointer(tree).assumingMemoryBound(to: UInt8.self),
                                           count: strlen(tree))
            do throws(JSONTapeError) {
                let tape = try JSONTape(json)
                return .statements(statements(tape: tape, query: query))
            } catch {
                return .error(message: "pgstash could not read the parse tree at byte \(error.offset)", position: -1)
            }
        }
    }

    private static func statements(tape: JSONTape, query: UnsafeBufferPointer<UInt8>) -> [StatementAnalysis] {
        guard let stmts = tape.member(0, "stmts") else { return [] }
        var out: [StatementAnalysis] = []
        tape.forEachChild(stmts) { raw in
            guard let stmt = tape.member(raw, "stmt") else { return }
            let location = tape.member(raw, "stmt_location").flatMap { tape.integer($0) } ?? 0
            let length = tape.member(raw, "stmt_len").flatMap { tape.integer($0) } ?? 0
            let start = min(max(location, 0), query.count)
            let end = length > 0 ? min(start + length, query.count) : query.count
            let bytes = UnsafeBufferPointer(rebasing: query[start..<end])
            let text = String(decoding: bytes, as: UTF8.self).trimmingSpaces
            let classifier = StatementClassifier(tape: tape, query: query, range: start..<end)
            var (analysis, walker) = classifier.classify(statement: stmt, text: text)
            Verdict.apply(to: &analysis, walker: walker)
            analysis.fingerprint = Fingerprint.compute(tape: tape, statement: stmt)
            analysis.normalized = Normalizer.normalize(bytes: bytes)
            out.append(analysis)
        }
        return out
    }
}

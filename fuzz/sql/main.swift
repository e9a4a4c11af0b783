// libFuzzer harness: SQLAnalyzer.analyze on untrusted SQL. Every simple Query and every
// Parse a client sends is analysed (libpg_query's parser, then pgstash's walk of the JSON
// parse tree: kinds, tables, volatility, fingerprint, normalisation) before it is forwarded,
// so a client controls this input completely. It must return a value, never trap.
import SQLAnalysis

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSQL(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let sql = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let analysis = SQLAnalyzer.analyze(sql)
    _ = renderJSON(analysis)
    return 0
}

import SQLAnalysis

/// µs per analysis of a ~300-character four-table join: cold (parse + scan + verdict +
/// fingerprint + normalized text) and warm (an `AnalysisCache` hit). Best of 5 rounds.
func runAnalysisBench() {
    let query = """
        SELECT o.id, o.reference, o.status, o.total, c."fullName", u.name AS agent, oi.title \
        FROM orders o JOIN customers c ON c.id = o."customerId" LEFT JOIN users u ON u.id = o."assignedAgentId" \
        JOIN order_items oi ON oi."orderId" = o.id WHERE o.status = $1 AND o."storeIdentifier" IN ($2, $3) \
        ORDER BY o."createdAt" DESC LIMIT 50
        """
    let check = SQLAnalyzer.analyze(query)
    guard check.cacheable, check.statements.first?.tablesRead.count == 4 else {
        print("analysis: benchmark query misanalysed: \(renderJSON(check))")
        return
    }
    let cache = AnalysisCache()
    _ = cache.analysis(of: query)

    let cold = bestMicroseconds(rounds: 5, iterations: 20_000) { SQLAnalyzer.analyze(query).statements.count }
    let warm = bestMicroseconds(rounds: 5, iterations: 1_000_000) { cache.analysis(of: query).statements.count }
    print("analysis: query \(query.utf8.count) chars, 4 tables")
    print("analysis: cold (parse + analyse) \(format(cold)) µs/op   target < 30")
    print("analysis: warm (LRU hit)         \(format(warm)) µs/op   target < 1")
}

private func bestMicroseconds(rounds: Int, iterations: Int, _ body: () -> Int) -> Double {
    let clock = ContinuousClock()
    var best = Double.infinity
    var sink = 0
    for _ in 0..<rounds {
        let start = clock.now
        for _ in 0..<iterations { sink &+= body() }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        best = min(best, seconds * 1e6 / Double(iterations))
    }
    if sink == 42 { print("") }
    return best
}

private func format(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

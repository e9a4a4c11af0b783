import ProxyCore

/// Cost per call of `SessionGate.mayChangeSession`, the lexical pre-filter every simple Query
/// and named Parse goes through: pgbench's `-S` query (1,024 texts, as `-M simple` sends a
/// new one each time), a ~300-byte four-table join with quoted identifiers, and a query with
/// comments, strings and a dollar-quoted body. All three answer "no", so the whole text is read.
func runGateBench() {
    let n = 2_000_000
    let pgbench = (0..<1024).map { Array("SELECT abalance FROM pgbench_accounts WHERE aid = \($0 * 97 + 1);".utf8) }
    let join = Array("""
        SELECT o.id, o.reference, o.status, o.total, c."fullName", u.name AS agent, oi.title \
        FROM orders o JOIN customers c ON c.id = o."customerId" LEFT JOIN users u ON u.id = o."assignedAgentId" \
        JOIN order_items oi ON oi."orderId" = o.id WHERE o.status = $1 AND o."storeIdentifier" IN ($2, $3) \
        ORDER BY o."createdAt" DESC LIMIT 50
        """.utf8)
    let commented = Array("""
        /* app: checkout, route: /cart */ SELECT name, 'it''s -- not a comment' AS note FROM products -- trailing
        WHERE sku = E'a\\'b' AND tag = $t$SET x = 1$t$ AND id = $1
        """.utf8)
    precondition(!SessionGate.mayChangeSession(pgbench[0][...]) && !SessionGate.mayChangeSession(join[...])
                 && !SessionGate.mayChangeSession(commented[...]), "gate: a benchmark text is a candidate")
    var maybes = 0
    print("gate: \(n) calls per pass")
    report("pgbench -S (\(pgbench[0].count) bytes)", n) {
        for i in 0..<n where SessionGate.mayChangeSession(pgbench[i & 1023][...]) { maybes += 1 }
    }
    report("four-table join (\(join.count) bytes)", n / 4) {
        for _ in 0..<(n / 4) where SessionGate.mayChangeSession(join[...]) { maybes += 1 }
    }
    report("comments, strings, $t$ (\(commented.count) bytes)", n / 4) {
        for _ in 0..<(n / 4) where SessionGate.mayChangeSession(commented[...]) { maybes += 1 }
    }
    precondition(maybes == 0)
}

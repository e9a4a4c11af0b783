import Testing

@Test func integrationBuilds() { #expect(Bool(true)) }

import Testing

@Test func proxycoreBuilds() { #expect(Bool(true)) }

import Testing

@Test func proxyconfigBuilds() { #expect(Bool(true)) }

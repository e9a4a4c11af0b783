import Testing

@Test func postgreswireBuilds() { #expect(Bool(true)) }

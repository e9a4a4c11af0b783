import Testing

@Test func eventloopBuilds() { #expect(Bool(true)) }

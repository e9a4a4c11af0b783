import Testing

@Test func sqlanalysisBuilds() { #expect(Bool(true)) }

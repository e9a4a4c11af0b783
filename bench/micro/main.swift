// pgstash micro-benchmarks of the hot paths. Run: swift run -c release pgstash-bench [name…]
// Each benchmark prints its own figures; see bench/README.md.
let selected = Set(CommandLine.arguments.dropFirst())
func wanted(_ name: String) -> Bool { selected.isEmpty || selected.contains(name) }

if wanted("framing") { runFramingBench() }
if wanted("analysis") { runAnalysisBench() }
if wanted("metrics") { runMetricsBench() }
if wanted("digests") { runDigestsBench() }
if wanted("gate") { runGateBench() }

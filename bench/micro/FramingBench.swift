func runFramingBench() { print("framing: not measured yet") }

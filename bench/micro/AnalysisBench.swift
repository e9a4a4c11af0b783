func runAnalysisBench() { print("analysis: not measured yet") }

print("micro benchmarks")

"""The synthetic district: a realistic, reproducible district for the demo, tests and benchmarks."""

"""Benchmarks: `make bench` (python -m bench) measures the stack and writes bench/RESULTS.md."""

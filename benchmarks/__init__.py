"""Benchmarks (`make bench`): throughput as ratios against a named baseline, never asserted."""

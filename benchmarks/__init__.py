"""Benchmarks that prove DESIGN.md's performance targets as ratios against same-run baselines."""

"""Benchmarks that prove the README's performance targets as ratios against same-run baselines."""

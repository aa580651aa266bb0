"""Pendamping benchmarks: engine step cost, durable step latency on SQLite, memory per stored session.

Run with `make bench` (or `make bench BENCH_ARGS="--quick"` / `--write`); see docs/benchmarks.md.
"""

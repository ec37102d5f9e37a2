"""Scale benchmarks: `make bench` (see run.py)."""

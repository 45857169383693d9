"""Helpers shared by tests and benchmarks (benchmarks import from here, never from tests)."""

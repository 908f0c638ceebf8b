"""Helpers for development, tests and benchmarks; nothing in the bridge itself uses them."""

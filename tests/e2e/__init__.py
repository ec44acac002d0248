"""The local Discord-compatible test server and its helpers (importable by benchmarks too)."""

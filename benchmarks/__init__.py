"""Speed and memory figures, printed as a table by `make bench` (`python -m benchmarks`)."""

"""Benchmarks (not tests): `make bench` or `python -m bench.django_publish [--quick]`. See docs/benchmarks.md."""

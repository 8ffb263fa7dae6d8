"""Parts of ``benchmarks/latency_overhead.py``: bare loops per runtime, the two comparisons' arms,
statistics, and the report. Imported by the driver script, which puts ``benchmarks/`` on ``sys.path``."""

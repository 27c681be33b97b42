"""`make bench`: the performance targets of ARCHITECTURE.md, each measured against a
baseline in the same run (same data, alternating rounds, median of >= 3), printed as a ratio.

Run with ``python -m bench`` (see bench/README.md). Nothing here is imported by the application.
"""

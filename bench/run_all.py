"""`make bench`: the billing cycle at 1,000 and 10,000 families with the naive baseline and stages alone.

Add ``--with-100k`` for the 100,000-family cycle (about 20 minutes more on 2 cores).
"""

from __future__ import annotations

import argparse

from bench import billing_cycle


def main() -> None:
    """Run every benchmark; each prints its table and writes JSON under bench/results/."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--with-100k", action="store_true")
    args = p.parse_args()
    sizes = ["1000", "10000", *(["100000"] if args.with_100k else [])]
    billing_cycle.main([arg for n in sizes for arg in ("--families", n)] + ["--baseline"])


if __name__ == "__main__":
    main()

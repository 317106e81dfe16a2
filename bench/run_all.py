"""`make bench`: every scenario of issue 4 at moderate sizes; each prints its table and writes JSON.

1-2. the billing cycle at 1,000 and 10,000 families with the naive baseline and the stages alone
     (``--with-100k`` adds the 100,000-family cycle, about 20 minutes more on 2 cores);
3.   webhooks at 50, 100, 200 and 400 events/s, 10 s each, beside /healthz;
4.   the family invoice list and invoice page under wrk at 50 and 200 connections, beside /healthz;
5.   an audit campaign (``--sites``, 500 by default; the issue's figure is 2,000: ``--full``) and open
     referral cases (``--cases``, 2,000 by default; the issue's figure is 10,000: ``--full``).

``--only NAME`` (repeatable) runs some of them: cycle, webhooks, pages, audit, referrals.
"""

from __future__ import annotations

import argparse

from bench import audit_campaign, billing_cycle, pages, referrals, webhooks

SCENARIOS = ("cycle", "webhooks", "pages", "audit", "referrals")


def main() -> None:
    """Run the standard set (or `--only` some); each writes its own JSON under bench/results/."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--with-100k", action="store_true", help="add the 100,000-family billing cycle")
    p.add_argument("--full", action="store_true", help="issue sizes: 2,000 audit sites and 10,000 referral cases")
    p.add_argument("--sites", type=int, default=None, help="audit campaign sites (default 500, 2000 with --full)")
    p.add_argument("--cases", type=int, default=None, help="referral cases (default 2000, 10000 with --full)")
    p.add_argument("--only", action="append", choices=SCENARIOS, help="repeatable; default: all")
    args = p.parse_args()
    only = set(args.only or SCENARIOS)
    if "cycle" in only:
        sizes = ["1000", "10000", *(["100000"] if args.with_100k else [])]
        billing_cycle.main([arg for n in sizes for arg in ("--families", n)] + ["--baseline"])
    if "webhooks" in only:
        webhooks.main(["--rates", "50", "100", "200", "400", "--duration", "10"])
    if "pages" in only:
        pages.main(["--clients", "50", "200", "--duration", "10"])
    if "audit" in only:
        sites = args.sites or (2000 if args.full else 500)
        audit_campaign.main(["--sites", str(sites)])
    if "referrals" in only:
        cases = args.cases or (10_000 if args.full else 2000)
        referrals.main(["--cases", str(cases)])


if __name__ == "__main__":
    main()

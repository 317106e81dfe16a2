"""Benchmark: sign-in answers in the same time whether or not the address has an account.

Run: ``.venv/bin/python -m bench.sign_in [--requests 200]``.

The API runs as the image runs it, on the embedded stack (moto's SES receives the links). Requests alternate
a known address (a demo family) and an unknown one; each names another client in X-Forwarded-For, believed
because the bench sets TRUSTED_PROXIES to loopback, so the sign-in rate limit (5 a minute per client) does not
answer instead of the route. Prints the median and p90 of each and their ratio (1.0: indistinguishable).
"""

from __future__ import annotations

import argparse
import time

import httpx

from bench.api_proc import latency_ms, start_api
from bench.stack import bench_today, embedded_stack, seed, table, write_result


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200, help="requests per kind of address")
    args = parser.parse_args(argv)
    with embedded_stack() as stack:
        db = stack.fresh_db("sign-in")
        seed(stack.settings_for(db, "bench-sign-in"), 5, bench_today())
        api, url = start_api(stack, db, "bench-sign-in", access_log=False, extra_env={"TRUSTED_PROXIES": "127.0.0.1"})
        timings: dict[str, list[float]] = {"known": [], "unknown": []}
        try:
            with httpx.Client(base_url=url, timeout=30) as c:
                for i in range(2 * args.requests + 20):
                    kind = "known" if i % 2 else "unknown"
                    email = "famille1@demo.paris.fr" if kind == "known" else f"inconnu{i}@exemple.fr"
                    t0 = time.perf_counter()
                    r = c.post(
                        "/auth/magic-link",
                        json={"email": email},
                        headers={"X-Forwarded-For": f"10.9.{i // 250}.{i % 250}"},
                    )
                    elapsed = time.perf_counter() - t0
                    r.raise_for_status()
                    if i >= 20:  # the first requests warm the process up
                        timings[kind].append(elapsed)
        finally:
            api.stop()
    known, unknown = latency_ms(timings["known"]), latency_ms(timings["unknown"])
    out = {
        "known": known,
        "unknown": unknown,
        "median_ratio_known_over_unknown": round(known["p50"] / unknown["p50"], 2),
    }
    print(
        table(
            [
                ("known address", f"p50 {known['p50']} ms, p90 {known['p90']} ms"),
                ("unknown address", f"p50 {unknown['p50']} ms, p90 {unknown['p90']} ms"),
                ("median ratio known / unknown", str(out["median_ratio_known_over_unknown"])),
            ],
            f"Sign-in by magic link, {args.requests} requests each",
        ),
        flush=True,
    )
    print("results:", write_result("sign_in", out))


if __name__ == "__main__":
    main()

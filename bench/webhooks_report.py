"""The webhook benchmark's figures: per step (rates, latencies, CPU per event), printable rows and the verdict."""

from __future__ import annotations

import os
from typing import Any

from bench.api_proc import latency_ms
from bench.webhooks_driver import Step

TARGET_RATE = 200
TARGET_P99_MS = 250.0
SIGNALLED = ("signal", "webhook")  # steps whose events reach a workflow (the others are plain HTTP)


def summarise(step: Step) -> dict[str, Any]:
    """Achieved rate, HTTP latency and (webhooks) latency to the workflow of one step."""
    ok = [s for s in step.shots if s.status == 200]
    errors: dict[str, int] = {}
    for s in step.shots:
        if s.status != 200:
            key = s.error or str(s.status)
            errors[key] = errors.get(key, 0) + 1
    out: dict[str, Any] = {
        "endpoint": step.endpoint,
        "offered_per_s": step.rate,
        "duration_s": step.duration_s,
        "sent": len(step.shots),
        "ok": len(ok),
        "errors": errors,
        "http_ms": latency_ms([s.latency_s for s in ok if s.latency_s is not None]),
        "driver_lag_ms": latency_ms([s.lag_s for s in step.shots]),
    }
    first = min((s.sent_wall for s in step.shots), default=0.0)
    last_answer = max((s.sent_wall + (s.latency_s or 0.0) for s in ok), default=first)
    out["answered_per_s"] = round(len(ok) / max(1e-9, last_answer - first), 1)
    if step.endpoint in SIGNALLED:
        seen = [s for s in ok if s.seen_wall is not None]
        out["seen_by_workflow"] = len(seen)
        out["to_workflow_ms"] = latency_ms([s.seen_wall - s.sent_wall for s in seen if s.seen_wall is not None])
        last_seen = max((s.seen_wall for s in seen if s.seen_wall is not None), default=first)
        # sustained: events the workflows processed per second, from the first send to the last processing
        out["sustained_per_s"] = round(len(seen) / max(1e-9, last_seen - first), 1)
    return out


def cpu_per_event(cpu: dict[str, float], step: Step) -> dict[str, Any]:
    """CPU milliseconds per processed event of each process, and the rate the machine's cores would cap.

    Robust to a shared machine: other people's load stretches latencies but not the CPU each event costs.
    """
    seen = sum(1 for s in step.shots if s.seen_wall is not None)
    if not seen:
        return {}
    per = {k: round(1000 * v / seen, 1) for k, v in cpu.items() if k not in ("localstripe", "moto")}
    server_side = sum(v for k, v in per.items() if not k.startswith("bench"))
    return {
        "cpu_ms_per_event": per,
        "cpu_bound_ceiling_per_s": round((os.cpu_count() or 1) * 1000 / server_side, 0) if server_side else None,
    }


def step_rows(steps: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Printable rows of one rate's steps (healthz, direct signal, webhook)."""
    rows = []
    for r in steps:
        h = r["http_ms"]
        line = f"{r['ok']}/{r['sent']} ok, {r['answered_per_s']}/s answered, HTTP p50 {h['p50']} p99 {h['p99']} ms" + (
            f", errors {r['errors']}" if r["errors"] else ""
        )
        rows.append((r["endpoint"], line))
        if r["endpoint"] in SIGNALLED:
            w = r["to_workflow_ms"]
            rows.append(
                (
                    "  to the workflow",
                    f"{r['seen_by_workflow']} seen, {r['sustained_per_s']}/s sustained,"
                    f" p50 {w['p50']} p99 {w['p99']} max {w['max']} ms",
                )
            )
            if "cpu_ms_per_event" in r:
                per = ", ".join(f"{k} {v}" for k, v in r["cpu_ms_per_event"].items())
                rows.append(("  CPU ms per event", f"{per}; all cores would cap at {r['cpu_bound_ceiling_per_s']}/s"))
    return rows


def verdict(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The highest offered rate fully processed with p99 to the workflow under the target."""
    good = [
        s
        for s in steps
        if s["endpoint"] == "webhook"
        and s["seen_by_workflow"] == s["sent"]
        and s["to_workflow_ms"]["p99"] is not None
        and s["to_workflow_ms"]["p99"] < TARGET_P99_MS
        and s["sustained_per_s"] >= 0.95 * s["offered_per_s"]
    ]
    best = max(good, key=lambda s: s["offered_per_s"], default=None)
    by_rate: dict[int, dict[str, dict[str, Any]]] = {}
    for s in steps:
        by_rate.setdefault(s["offered_per_s"], {})[s["endpoint"]] = s
    ratios = {}
    for rate, at in by_rate.items():
        hook, hz, sig = at.get("webhook"), at.get("healthz"), at.get("signal")
        if hook is None:
            continue
        ratios[str(rate)] = {
            "webhook_http_p99_over_healthz_p99": _ratio(hook["http_ms"]["p99"], hz["http_ms"]["p99"] if hz else None),
            # 1.0: the API adds nothing to what Temporal and the worker sustain for one signal per event
            "webhook_sustained_over_direct_signal": _ratio(
                hook.get("sustained_per_s"), sig["sustained_per_s"] if sig else None
            ),
        }
    return {
        "best_rate_meeting_p99": best["offered_per_s"] if best else None,
        "target": f">= {TARGET_RATE} events/s with p99 < {TARGET_P99_MS:g} ms to the workflow",
        "met": bool(best and best["offered_per_s"] >= TARGET_RATE),
        "ratios": ratios,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / max(0.1, b), 2) if a is not None and b is not None else None

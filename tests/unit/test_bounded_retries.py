"""Every activity a workflow runs retries a bounded number of times (Temporal's default is forever).

A static walk of workflows/: an unbounded policy is how one unknown PaymentIntent held an invoice for good.
"""

from __future__ import annotations

import ast
from pathlib import Path

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
ACTIVITY_CALLS = {
    "execute_activity",
    "execute_activity_method",
    "execute_activity_class",
    "start_activity",
    "start_activity_method",
    "start_activity_class",
    "execute_local_activity",
    "execute_local_activity_method",
    "execute_local_activity_class",
    "start_local_activity",
    "start_local_activity_method",
    "start_local_activity_class",
}


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _keywords(call: ast.Call) -> dict[str, ast.expr]:
    return {k.arg: k.value for k in call.keywords if k.arg is not None}


def unbounded(source: str, filename: str) -> list[str]:
    """Where `source` builds an unbounded RetryPolicy or runs an activity with no bound at all."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        kw = _keywords(node)
        where = f"{filename}:{node.lineno}"
        if _name(node.func) == "RetryPolicy":
            attempts = kw.get("maximum_attempts")
            if not (isinstance(attempts, ast.Constant) and isinstance(attempts.value, int) and attempts.value > 0):
                found.append(f"{where} RetryPolicy without a positive literal maximum_attempts")
        elif _name(node.func) in ACTIVITY_CALLS and not ({"retry_policy", "schedule_to_close_timeout"} & kw.keys()):
            # no retry_policy: the default one, which retries forever
            found.append(f"{where} activity without retry_policy or schedule_to_close_timeout")
    return found


def test_every_retry_policy_in_workflows_is_bounded() -> None:
    files = sorted(WORKFLOWS.glob("*.py"))
    assert len(files) > 5
    problems = [p for f in files for p in unbounded(f.read_text(), f.name)]
    assert problems == []


def test_the_check_finds_unbounded_policies() -> None:
    source = """
STRIPE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
ZERO = RetryPolicy(maximum_attempts=0)
OK = RetryPolicy(maximum_attempts=5)
async def run():
    await workflow.execute_activity_method(A.f, 1, start_to_close_timeout=CALL)
    await workflow.execute_activity(A.f, 1, start_to_close_timeout=CALL, retry_policy=OK)
    await workflow.execute_activity(A.f, 1, schedule_to_close_timeout=CALL)
"""
    assert [p.split(" ", 1)[0] for p in unbounded(source, "x.py")] == ["x.py:2", "x.py:3", "x.py:6"]

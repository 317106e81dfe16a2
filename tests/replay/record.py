"""Record replay histories: `python -m tests.replay.record` runs the workflow scenarios with the recorder.

Histories land in tests/replay/histories/<WorkflowType>-<n>.json (commit them). Re-record after an
intentional, versioned change of a workflow (with `workflow.patched`), never to silence a replay failure.
"""

from __future__ import annotations

import sys

import pytest

SCENARIOS = [
    "tests/workflows/test_billing_cycle.py",
    "tests/workflows/test_audit_campaign.py",
    "tests/workflows/test_referral_case.py",
    "tests/workflows/test_rhythm_delivery.py",
    "tests/workflows/test_tariff_simulation.py",
    "tests/workflows/test_contests.py",
    "tests/workflows/test_payment_plan_kept.py",
    "tests/workflows/test_payment_plan_default.py",
    "tests/workflows/test_payment_plan_contest.py",
]


def main() -> int:
    """Run the scenarios with the recorder plugin; non-zero if a scenario failed (nothing is replaced then)."""
    return int(pytest.main(["-q", "-p", "tests.replay.recorder", "-p", "no:cacheprovider", *SCENARIOS, *sys.argv[1:]]))


if __name__ == "__main__":
    sys.exit(main())

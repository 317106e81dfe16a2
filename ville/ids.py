"""Workflow ids built from business keys: opaque references only, never personal data."""

from __future__ import annotations

from datetime import UTC, datetime


def billing_cycle_id(period_key: str) -> str:
    """`billing-cycle-2026-09`."""
    return f"billing-cycle-{period_key}"


def invoice_payment_id(invoice_number: str) -> str:
    """`invoice-payment-FF-2026-000123`."""
    return f"invoice-payment-{invoice_number}"


def audit_campaign_id(campaign_id: int | str) -> str:
    """`audit-campaign-<id>`."""
    return f"audit-campaign-{campaign_id}"


def inspection_id(task_id: int | str) -> str:
    """`inspection-<task id>`."""
    return f"inspection-{task_id}"


def referral_case_id(case_ref: str) -> str:
    """`referral-<case ref>`."""
    return f"referral-{case_ref}"


def tariff_simulation_id(simulation_id: str) -> str:
    """`tariff-simulation-<id>`."""
    return f"tariff-simulation-{simulation_id}"


def notification_delivery_id(due_at: datetime) -> str:
    """`notification-delivery-20261127T0700Z`: one delivery workflow per instant, shared by every sender."""
    return f"notification-delivery-{due_at.astimezone(UTC):%Y%m%dT%H%MZ}"


def contest_id(invoice_number: str, seq: int) -> str:
    """`contest-FF-2026-000123-1`: the invoice's n-th contest (réclamation)."""
    return f"contest-{invoice_number}-{seq}"


def payment_plan_id(invoice_number: str, seq: int) -> str:
    """`payment-plan-FF-2026-000123-1`: the invoice's n-th payment plan (échéancier)."""
    return f"payment-plan-{invoice_number}-{seq}"

"""Retry policies shared by the payment workflows: every one bounded, so no failure holds an invoice for good."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Stripe: an outage longer than ~25 min fails the attempt (the console lists the workflow; a plan's instalment
# check then sees it unpaid), where an unbounded policy retried a PaymentIntent Stripe does not know for ever
STRIPE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1), maximum_attempts=30
)
# Database and e-mail steps (recording an outcome Stripe already has): patient, ~2 days, still bounded
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5), maximum_attempts=600
)

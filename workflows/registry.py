"""Every workflow type the worker runs."""

from __future__ import annotations

from collections.abc import Sequence

from workflows.billing import BillingCycleWorkflow
from workflows.payment import InvoicePaymentWorkflow

WORKFLOWS: Sequence[type] = [BillingCycleWorkflow, InvoicePaymentWorkflow]

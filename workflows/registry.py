"""Every workflow type the worker runs."""

from __future__ import annotations

from collections.abc import Sequence

from workflows.audit_campaign import AuditCampaignWorkflow
from workflows.billing import BillingCycleWorkflow
from workflows.contests import LineContestWorkflow
from workflows.delivery import NotificationDeliveryWorkflow
from workflows.inspection import InspectionWorkflow
from workflows.payment import InvoicePaymentWorkflow
from workflows.payment_plans import PaymentPlanWorkflow
from workflows.referrals import ReferralCaseWorkflow
from workflows.simulation import TariffSimulationWorkflow

WORKFLOWS: Sequence[type] = [
    BillingCycleWorkflow,
    InvoicePaymentWorkflow,
    ReferralCaseWorkflow,
    AuditCampaignWorkflow,
    InspectionWorkflow,
    NotificationDeliveryWorkflow,
    TariffSimulationWorkflow,
    LineContestWorkflow,
    PaymentPlanWorkflow,
]

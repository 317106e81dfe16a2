"""Routers per audience; every route declares who may call it."""

from fastapi import APIRouter

from api.pages.agent import router as pages_agent_router
from api.pages.common import router as pages_common_router
from api.pages.contests import router as pages_contests_router
from api.pages.family import router as pages_family_router
from api.pages.inspector import router as pages_inspector_router
from api.pages.operator import router as pages_operator_router
from api.pages.operator_cycles import router as pages_operator_cycles_router
from api.pages.partner import router as pages_partner_router
from api.pages.payment_watch import router as pages_payment_watch_router
from api.pages.sign_in import router as pages_sign_in_router
from api.pages.simulation import router as pages_simulation_router
from api.routes.audit import router as audit_router
from api.routes.audit_evidence import router as audit_evidence_router
from api.routes.auth import router as auth_router
from api.routes.billing_operator.attendance import router as billing_attendance_router
from api.routes.billing_operator.contests import router as billing_contests_router
from api.routes.billing_operator.cycles import router as billing_cycles_router
from api.routes.billing_operator.invoices import router as billing_invoices_router
from api.routes.billing_operator.journal import router as billing_journal_router
from api.routes.billing_operator.payments import router as billing_payments_router
from api.routes.billing_operator.simulations import router as billing_simulations_router
from api.routes.codec import router as codec_router
from api.routes.family.account import router as family_account_router
from api.routes.family.card import router as family_card_router
from api.routes.family.contests import router as family_contests_router
from api.routes.family.invoices import router as family_invoices_router
from api.routes.family.mandate import router as family_mandate_router
from api.routes.family.payments import router as family_payments_router
from api.routes.family.preferences import router as family_preferences_router
from api.routes.family.statements import router as family_statements_router
from api.routes.metrics import router as metrics_router
from api.routes.operator.notifications import router as operator_notifications_router
from api.routes.operator.payment_incidents import router as operator_payment_incidents_router
from api.routes.referrals import router as referrals_router
from api.routes.webhooks import router as webhooks_router

# Routes are matched in this order, one by one: the most requested come first (families' pages and API,
# Stripe's webhooks), then people with fewer requests. No two routers share a path prefix, so the order
# changes no answer, only how many patterns a request is compared with.
ROUTERS: list[APIRouter] = [
    pages_family_router,
    family_invoices_router,
    family_card_router,
    family_account_router,
    family_preferences_router,
    family_mandate_router,
    family_payments_router,
    family_statements_router,
    family_contests_router,
    webhooks_router,
    pages_common_router,
    pages_sign_in_router,
    auth_router,
    pages_inspector_router,
    audit_router,
    audit_evidence_router,
    pages_partner_router,
    pages_agent_router,
    referrals_router,
    billing_attendance_router,
    billing_cycles_router,
    billing_invoices_router,
    billing_payments_router,
    billing_journal_router,
    operator_notifications_router,
    operator_payment_incidents_router,
    billing_simulations_router,
    billing_contests_router,
    pages_operator_router,
    pages_payment_watch_router,
    pages_operator_cycles_router,
    pages_simulation_router,
    pages_contests_router,
    codec_router,
    metrics_router,
]

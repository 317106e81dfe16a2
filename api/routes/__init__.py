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
from api.pages.payment_plans import router as pages_payment_plans_router
from api.pages.payment_watch import router as pages_payment_watch_router
from api.pages.sign_in import router as pages_sign_in_router
from api.pages.simulation import router as pages_simulation_router
from api.routes.attendance import router as attendance_router
from api.routes.audit import router as audit_router
from api.routes.audit_evidence import router as audit_evidence_router
from api.routes.auth import router as auth_router
from api.routes.billing_family import router as billing_family_router
from api.routes.billing_operator import router as billing_operator_router
from api.routes.billing_operator_plans import router as billing_operator_plans_router
from api.routes.codec import router as codec_router
from api.routes.contests import router as contests_router
from api.routes.family.payment_plans import router as family_payment_plans_router
from api.routes.metrics import router as metrics_router
from api.routes.notifications import router as notifications_router
from api.routes.payment_watch import router as payment_watch_router
from api.routes.referrals import router as referrals_router
from api.routes.simulation import router as simulation_router
from api.routes.webhooks import router as webhooks_router

# Routes are matched in this order, one by one: the most requested come first (families' pages and API,
# Stripe's webhooks), then people with fewer requests. No two routers share a path prefix, so the order
# changes no answer, only how many patterns a request is compared with.
ROUTERS: list[APIRouter] = [
    pages_family_router,
    billing_family_router,
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
    attendance_router,
    billing_operator_router,
    notifications_router,
    payment_watch_router,
    simulation_router,
    contests_router,
    family_payment_plans_router,
    billing_operator_plans_router,
    pages_operator_router,
    pages_payment_watch_router,
    pages_operator_cycles_router,
    pages_simulation_router,
    pages_contests_router,
    pages_payment_plans_router,
    codec_router,
    metrics_router,
]

"""Every router of the app, pages and JSON, in the order requests are matched; every route declares who may call it."""

from fastapi import APIRouter

from api.pages.billing_operator import router as pages_billing_operator_router
from api.pages.family import router as pages_family_router
from api.pages.inspector import router as pages_inspector_router
from api.pages.operator import router as pages_operator_router
from api.pages.partner import router as pages_partner_router
from api.pages.public import router as pages_public_router
from api.pages.quality import router as pages_quality_router
from api.pages.rif_agent import router as pages_rif_agent_router
from api.routes.auth import router as auth_router
from api.routes.billing_operator.attendance import router as billing_attendance_router
from api.routes.billing_operator.contests import router as billing_contests_router
from api.routes.billing_operator.cycles import router as billing_cycles_router
from api.routes.billing_operator.invoices import router as billing_invoices_router
from api.routes.billing_operator.journal import router as billing_journal_router
from api.routes.billing_operator.payment_plans import router as billing_payment_plans_router
from api.routes.billing_operator.payments import router as billing_payments_router
from api.routes.billing_operator.simulations import router as billing_simulations_router
from api.routes.codec import router as codec_router
from api.routes.family.account import router as family_account_router
from api.routes.family.card import router as family_card_router
from api.routes.family.contests import router as family_contests_router
from api.routes.family.invoices import router as family_invoices_router
from api.routes.family.mandate import router as family_mandate_router
from api.routes.family.payment_plans import router as family_payment_plans_router
from api.routes.family.payments import router as family_payments_router
from api.routes.family.preferences import router as family_preferences_router
from api.routes.family.referral_link import router as family_referral_link_router
from api.routes.family.statements import router as family_statements_router
from api.routes.inspector.evidence import router as inspector_evidence_router
from api.routes.inspector.tasks import router as inspector_tasks_router
from api.routes.metrics import router as metrics_router
from api.routes.operator.notifications import router as operator_notifications_router
from api.routes.operator.payment_incidents import router as operator_payment_incidents_router
from api.routes.partner.referrals import router as partner_referrals_router
from api.routes.quality.campaigns import router as quality_campaigns_router
from api.routes.quality.catalogue import router as quality_catalogue_router
from api.routes.quality.results import router as quality_results_router
from api.routes.quality.review import router as quality_review_router
from api.routes.rif_agent.attachments import router as rif_agent_attachments_router
from api.routes.rif_agent.cases import router as rif_agent_cases_router
from api.routes.rif_agent.directory import router as rif_agent_directory_router
from api.routes.rif_agent.referrals import router as rif_agent_referrals_router
from api.routes.rif_coordination.directory_import import router as rif_coordination_directory_import_router
from api.routes.rif_coordination.sla_breaches import router as rif_coordination_sla_breaches_router
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
    pages_public_router,
    auth_router,
    pages_inspector_router,
    inspector_tasks_router,
    inspector_evidence_router,
    quality_campaigns_router,
    quality_catalogue_router,
    quality_review_router,
    quality_results_router,
    pages_partner_router,
    pages_rif_agent_router,
    rif_agent_cases_router,
    rif_agent_referrals_router,
    rif_agent_attachments_router,
    rif_agent_directory_router,
    partner_referrals_router,
    family_referral_link_router,
    rif_coordination_sla_breaches_router,
    rif_coordination_directory_import_router,
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
    pages_quality_router,
    pages_billing_operator_router,
    family_payment_plans_router,
    billing_payment_plans_router,
    codec_router,
    metrics_router,
]

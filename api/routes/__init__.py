"""Routers per audience; every route declares who may call it."""

from fastapi import APIRouter

from api.pages.common import router as pages_common_router
from api.pages.family import router as pages_family_router
from api.pages.inspector import router as pages_inspector_router
from api.pages.operator import router as pages_operator_router
from api.pages.partner import router as pages_partner_router
from api.routes.attendance import router as attendance_router
from api.routes.audit import router as audit_router
from api.routes.auth import router as auth_router
from api.routes.billing_family import router as billing_family_router
from api.routes.billing_operator import router as billing_operator_router
from api.routes.codec import router as codec_router
from api.routes.metrics import router as metrics_router
from api.routes.notifications import router as notifications_router
from api.routes.referrals import router as referrals_router
from api.routes.webhooks import router as webhooks_router

ROUTERS: list[APIRouter] = []
ROUTERS.append(attendance_router)
ROUTERS.append(auth_router)
ROUTERS.append(billing_family_router)
ROUTERS.append(billing_operator_router)
ROUTERS.append(webhooks_router)
ROUTERS.append(codec_router)
ROUTERS.append(metrics_router)
ROUTERS.append(referrals_router)
ROUTERS.append(audit_router)
ROUTERS.append(pages_common_router)
ROUTERS.append(pages_family_router)
ROUTERS.append(pages_inspector_router)
ROUTERS.append(pages_partner_router)
from api.pages.agent import router as pages_agent_router  # noqa: E402

ROUTERS.append(pages_agent_router)
ROUTERS.append(pages_operator_router)
ROUTERS.append(notifications_router)

from api.routes.simulation import router as simulation_router  # noqa: E402

ROUTERS.append(simulation_router)

from api.pages.simulation import router as pages_simulation_router  # noqa: E402

ROUTERS.append(pages_simulation_router)

"""Console pages of the operators: home, workflows, referrals past their SLA, failed messages, journal."""

from api.pages.common import page_router
from api.pages.operator import home, journal, notifications, referrals, workflows

router = page_router()
for _module in (home, workflows, referrals, notifications, journal):
    router.include_router(_module.router)

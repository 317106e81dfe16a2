"""Pages of RIF relay agents (and coordinators): cases and referrals."""

from api.pages.common import page_router
from api.pages.rif_agent import cases, new_case

router = page_router()
for _module in (
    cases,
    new_case,
):
    router.include_router(_module.router)

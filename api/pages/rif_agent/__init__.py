"""Pages of RIF relay agents (and coordinators): cases and referrals."""

from api.pages.common import page_router
from api.pages.rif_agent import cases, new_case

router = page_router()
# "/rif/dossiers/nouveau" before "/rif/dossiers/{ref}", which would take it for a case reference
for _module in (new_case, cases):
    router.include_router(_module.router)

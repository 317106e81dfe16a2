"""Pages of inspectors: their missions, the checklist, evidence uploads."""

from api.pages.common import page_router
from api.pages.inspector import evidence, grid, missions

router = page_router()
for _module in (missions, grid, evidence):
    router.include_router(_module.router)

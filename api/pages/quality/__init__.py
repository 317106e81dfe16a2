"""Console pages of the quality team: audit tasks."""

from api.pages.common import page_router
from api.pages.quality import tasks

router = page_router()
for _module in (tasks,):
    router.include_router(_module.router)

"""Pages of families (French): invoices, payments, preferences, SEPA mandate, statements, contests."""

from api.pages.common import page_router
from api.pages.family import contests, invoices, mandate, payments, preferences, statements

router = page_router()
for _module in (invoices, payments, preferences, mandate, statements, contests):
    router.include_router(_module.router)

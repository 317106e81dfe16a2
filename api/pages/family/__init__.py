"""Pages of families (French): invoices, payments, preferences, SEPA mandate, statements, contests, payment plans."""

from api.pages.common import page_router
from api.pages.family import contests, invoices, mandate, payment_plans, payments, preferences, statements

router = page_router()
for _module in (invoices, payments, preferences, mandate, statements, contests, payment_plans):
    router.include_router(_module.router)

"""Console pages of the billing operators: cycles, invoices, payment incidents, simulations, contests, payment plans."""

from api.pages.billing_operator import (
    contests,
    cycle_start,
    cycles,
    invoices,
    payment_incidents,
    payment_plans,
    simulations,
)
from api.pages.common import page_router

router = page_router()
for _module in (cycles, cycle_start, invoices, payment_incidents, simulations, contests, payment_plans):
    router.include_router(_module.router)

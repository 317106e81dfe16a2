"""Console pages of the billing operators: cycles, invoices, payment incidents, simulations, contests."""

from api.pages.billing_operator import contests, cycle_start, cycles, invoices, payment_incidents, simulations
from api.pages.common import page_router

router = page_router()
for _module in (cycles, cycle_start, invoices, payment_incidents, simulations, contests):
    router.include_router(_module.router)

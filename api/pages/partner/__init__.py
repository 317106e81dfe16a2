"""Pages of partners: a referral opened from the secure link, the organisation's referrals."""

from api.pages.common import page_router
from api.pages.partner import link, organisation

router = page_router()
for _module in (link, organisation):
    router.include_router(_module.router)

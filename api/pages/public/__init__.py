"""Public pages: landing, sign-in, sign-out."""

from api.pages.common import page_router
from api.pages.public import home, sign_in

router = page_router()
for _module in (home, sign_in):
    router.include_router(_module.router)

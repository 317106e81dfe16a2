"""SQLModel tables: importing this package registers every table on `SQLModel.metadata`."""

from ville.models import (  # noqa: F401
    audit,
    billing,
    contests,
    oidc,
    payment_plans,
    people,
    referrals,
    rhythm,
)

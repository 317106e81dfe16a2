"""SQLModel tables: importing this package registers every table on `SQLModel.metadata`."""

from ville.models import billing, people  # noqa: F401

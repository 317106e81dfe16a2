"""The billing fixtures of tests/workflows, shared with the no-cache scenario."""

from tests.workflows.conftest import billing_world  # noqa: F401

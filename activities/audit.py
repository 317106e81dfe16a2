"""QualiParis activities, built together: campaigns (`audit_campaigns`), inspections (`audit_tasks`) and closing
(`audit_reports`). Each activity calls a service of `services/audit*.py`; the report is rendered by `documents`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.client import Client

from activities.audit_campaigns import AuditCampaignActivities
from activities.audit_reports import AuditResultActivities
from activities.audit_tasks import InspectionActivities
from services.notifications import Notifier
from ville.db import SessionFactory
from ville.settings import Settings


class AuditActivities:
    """Every audit activity, with the same injected clients."""

    def __init__(
        self, sessions: SessionFactory, s3: Any, notifier: Notifier, settings: Settings, client: Client | None = None
    ) -> None:
        self.campaigns = AuditCampaignActivities(sessions, s3, notifier, settings, client)
        self.inspections = InspectionActivities(sessions, s3, notifier, settings, client)
        self.closing = AuditResultActivities(sessions, s3, notifier, settings, client)

    def activities(self) -> list[Callable[..., Any]]:
        """The bound activities to register on a worker."""
        c, i, r = self.campaigns, self.inspections, self.closing
        return [
            c.plan_campaign,
            c.start_inspections,
            c.start_campaign,
            c.set_campaign_status,
            c.add_campaign_site,
            c.withdraw_campaign_site,
            c.mark_inspector_unavailable,
            i.load_task,
            i.record_task_state,
            i.reassign_task,
            i.assign_task,
            i.save_submission,
            i.record_review,
            r.compute_results,
            r.schedule_reaudit,
            r.build_report,
            r.notify_site_managers,
            i.record_due_date,
        ]

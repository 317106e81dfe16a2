"""QualiParis closing activities: results and corrective actions, the follow-up campaign, the report, the notices."""

from __future__ import annotations

from activities.audit_common import AuditActivityBase, refusals
from activities.definition import defn
from contracts.audit_campaign import ReauditPlan, ReportKeys, ResultsRequest, ResultsSummary
from contracts.audit_names import AuditActivity
from documents.audit_report import campaign_report_csv, campaign_report_pdf
from services.audit_results import AuditResults
from services.notifications import raise_if_retryable


class AuditResultActivities(AuditActivityBase):
    """The campaign's closing work: database, S3 and e-mails."""

    @defn(name=AuditActivity.COMPUTE_RESULTS)
    def compute_results(self, request: ResultsRequest) -> ResultsSummary:
        """Score every site from its approved results, decide its label, open corrective actions."""
        with self.sessions() as s, refusals():
            return AuditResults(s).compute(request.campaign_id, request.today)

    @defn(name=AuditActivity.SCHEDULE_REAUDIT)
    def schedule_reaudit(self, request: ResultsRequest) -> ReauditPlan:
        """Create (once) the follow-up campaign of the refused sites, opening after their actions are due."""
        with self.sessions() as s, refusals():
            return AuditResults(s).schedule_reaudit(request.campaign_id, request.today)

    @defn(name=AuditActivity.BUILD_REPORT)
    def build_report(self, campaign_id: int) -> ReportKeys:
        """Render the campaign report (CSV and PDF) and store both in S3."""
        with self.sessions() as s, refusals():
            data = AuditResults(s).report_data(campaign_id)
        folder = f"audit/reports/campaign-{campaign_id}"
        csv_key = f"{folder}/rapport-campagne-{campaign_id}.csv"
        pdf_key = f"{folder}/rapport-campagne-{campaign_id}.pdf"
        self.s3.put_object(
            Bucket=self.bucket, Key=csv_key, Body=campaign_report_csv(data), ContentType="text/csv; charset=utf-8"
        )
        self.s3.put_object(
            Bucket=self.bucket, Key=pdf_key, Body=campaign_report_pdf(data), ContentType="application/pdf"
        )
        with self.sessions() as s, refusals():
            AuditResults(s).record_report(campaign_id, csv_key, pdf_key)
        return ReportKeys(csv_key=csv_key, pdf_key=pdf_key)

    @defn(name=AuditActivity.NOTIFY_SITE_MANAGERS)
    def notify_site_managers(self, campaign_id: int) -> int:
        """Send each site manager the result and corrective actions (once per campaign and site)."""
        with self.sessions() as s, refusals():
            requests = AuditResults(s).site_manager_notices(campaign_id)
        outcome = self.notifier.send_many(requests)
        raise_if_retryable(outcome)
        return outcome.sent + outcome.already_sent + outcome.scheduled

"""ReferralCaseWorkflow on the time-skipping server with the real activities (SQLite, moto S3/SES/SNS)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf.message import Message
from sqlmodel import col, select
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.referrals import ReferralActivities
from contracts.referrals import (
    ActorKind,
    CaseProjection,
    CloseCaseRequest,
    CreateReferralInput,
    HistoryEntry,
    HistoryEvent,
    NoticeInput,
    NoticeKind,
    PartnerAccept,
    PartnerRefuse,
    RecordInput,
    ReferralCaseInput,
    ReferralProcess,
    ReferRequest,
)
from domain.calendar import PARIS, format_date_fr
from domain.hsds import Directory, OrganizationRecord, ServiceRecord
from domain.referral_cases import (
    CaseBusinessStatus,
    CaseOutcome,
    CaseStatus,
    ConsentScope,
    ContactChannel,
    NeedCategory,
    attachment_prefix,
)
from domain.referral_dates import ack_deadline, ack_deadline_at, attachments_delete_at
from domain.referrals import ReferralState, RefusalReason
from services.notifications import Notifier
from services.referral_directory import load_directory
from services.referrals import ANONYMISED_NAME
from tests.workflows.conftest import sent_emails
from ville.aws import aws_client
from ville.db import SessionFactory
from ville.models.billing import Notification
from ville.models.people import Role, UserAccount
from ville.models.referrals import (
    PartnerService,
    Referral,
    ReferralAttachment,
    ReferralCase,
    ReferralHistory,
    ReferralNote,
    RifRelay,
    as_utc,
)
from ville.settings import Settings
from ville.temporal import data_converter
from workflows.referral_checks import ILLEGAL, REJECTED
from workflows.referrals import ReferralCaseWorkflow

BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
FAMILY_NAME, FAMILY_PHONE, FAMILY_EMAIL = "Awa Diallo-Testcase", "+33611223344", "awa.testcase@familles.example"


@pytest.fixture(scope="module")
async def referral_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of this module's own (like `time_env`): its clock jumps two years."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=data_converter(settings)
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
def executor() -> Iterator[ThreadPoolExecutor]:
    """The activity thread pool."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        yield pool


@pytest.fixture
async def worker(
    referral_env: WorkflowEnvironment, settings: Settings, sessions: SessionFactory, executor: ThreadPoolExecutor
) -> AsyncIterator[Worker]:
    """The referral workflow with its real activities on the session database and the emulators."""
    notifier = Notifier(sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), settings)
    activities = ReferralActivities(sessions, aws_client(settings, "s3"), notifier, settings)
    async with Worker(
        referral_env.client,
        task_queue=f"referrals-{uuid.uuid4().hex[:6]}",
        workflows=[ReferralCaseWorkflow],
        activities=activities.activities(),
        activity_executor=executor,
    ) as w:
        yield w


class World:
    """A relay with its agent and coordinator, four partner services and one case."""

    def __init__(self, sessions: SessionFactory, settings: Settings, channel: ContactChannel) -> None:
        self.sessions, self.settings = sessions, settings
        tag = uuid.uuid4().hex[:8]
        with sessions() as s:
            relay = RifRelay(code=f"T-{tag}", name="Relais Informations Familles test", arrondissement=12,
                             email="rif-test@paris.example", phone="01 00 00 00 00")  # fmt: skip
            s.add(relay)
            s.flush()
            assert relay.id is not None
            agent = UserAccount(email=f"agent-{tag}@demo.paris.fr", display_name="Agent test",
                                role=Role.rif_agent, relay_id=relay.id)  # fmt: skip
            coordinator = UserAccount(email=f"coord-{tag}@demo.paris.fr", display_name="Coordination test",
                                      role=Role.coordinator, relay_id=relay.id)  # fmt: skip
            s.add_all([agent, coordinator])
            s.commit()
            assert agent.id and coordinator.id
            self.relay_id, self.agent_id, self.coordinator_id = relay.id, agent.id, coordinator.id
            orgs = [OrganizationRecord(f"o-{tag}-{i}", f"Partenaire {i}", email=f"p{i}-{tag}@partenaires.example")
                    for i in range(4)]  # fmt: skip
            services = [ServiceRecord(f"s-{tag}-{i}", o.id, f"Service {i}", categories=(NeedCategory.HOUSING,),
                                      arrondissements=(12,)) for i, o in enumerate(orgs)]  # fmt: skip
            load_directory(s, Directory(tuple(orgs), tuple(services), (), ()))
            self.services = [
                s.exec(select(PartnerService).where(PartnerService.hsds_id == rec.id)).one() for rec in services
            ]
            self.case_ref = f"RIF-2099-{uuid.uuid4().int % 1_000_000:06d}"
            case = ReferralCase(
                ref=self.case_ref, relay_id=relay.id, arrondissement=12, opened_by_user_id=agent.id,
                contact_name=FAMILY_NAME, contact_email=FAMILY_EMAIL, contact_phone=FAMILY_PHONE,
                situation="Hébergée chez un tiers avec deux enfants", partner_summary="Recherche de logement",
                preferred_channel=channel.value, needs=[NeedCategory.HOUSING.value],
                consent_scope=[c.value for c in ConsentScope],
            )  # fmt: skip
            s.add(case)
            s.commit()
            assert case.id is not None
            self.case_id = case.id

    def add_attachment(self) -> str:
        """An uploaded document of the case, in S3 and in the database."""
        key = f"{attachment_prefix(self.case_ref)}{uuid.uuid4().hex}"
        aws_client(self.settings, "s3").put_object(Bucket=self.settings.s3_bucket, Key=key, Body=b"%PDF-1.4 test")
        with self.sessions() as s:
            s.add(ReferralAttachment(case_id=self.case_id, s3_key=key, filename="avis-imposition-diallo.pdf",
                                     content_type="application/pdf", size_bytes=13, status="uploaded",
                                     uploaded_by_user_id=self.agent_id))  # fmt: skip
            s.commit()
        return key

    def referral(self, ref: str) -> Referral:
        """The projection of a referral."""
        with self.sessions() as s:
            return s.exec(select(Referral).where(Referral.ref == ref)).one()

    def case(self) -> ReferralCase:
        """The projection of the case."""
        with self.sessions() as s:
            return s.get_one(ReferralCase, self.case_id)

    def history(self) -> list[ReferralHistory]:
        """The case history, in order."""
        with self.sessions() as s:
            return list(s.exec(select(ReferralHistory).where(ReferralHistory.case_id == self.case_id)
                               .order_by(col(ReferralHistory.seq))).all())  # fmt: skip

    def notification(self, key: str) -> Notification | None:
        """The notification sent under `key`."""
        with self.sessions() as s:
            return s.exec(select(Notification).where(Notification.key == key)).first()

    def note(self, body: str) -> int:
        """A partner's message, written before the update that refers to it (like the API does)."""
        with self.sessions() as s:
            note = ReferralNote(case_id=self.case_id, kind="refusal", author_kind="partner", body=body,
                                partner_visible=True)  # fmt: skip
            s.add(note)
            s.commit()
            assert note.id is not None
            return note.id

    def s3_keys(self) -> list[str]:
        """Objects left under the case's prefix."""
        resp = aws_client(self.settings, "s3").list_objects_v2(
            Bucket=self.settings.s3_bucket, Prefix=attachment_prefix(self.case_ref)
        )
        return [o["Key"] for o in resp.get("Contents", [])]


async def _start(env: WorkflowEnvironment, worker: Worker, world: World, **kw: Any) -> WorkflowHandle[Any, Any]:
    return await env.client.start_workflow(
        ReferralCaseWorkflow.run,
        ReferralCaseInput(world.case_ref, world.relay_id, 12, opened_by_user_id=world.agent_id, **kw),
        id=f"referral-{world.case_ref}",
        task_queue=worker.task_queue,
    )


async def _skip_to(env: WorkflowEnvironment, when: datetime) -> None:
    now = await env.get_current_time()
    assert when > now, f"{when} is already past ({now})"
    await env.sleep(when - now)


def _payloads(msg: Message) -> Iterator[Payload]:
    for fd, value in msg.ListFields():
        if fd.message_type is None:
            continue
        if isinstance(value, Message):
            values = [value]
        elif fd.message_type.GetOptions().map_entry:
            values = list(value.values())
        else:
            values = list(value)
        for v in values:
            if isinstance(v, Payload):
                yield v
            elif isinstance(v, Message):
                yield from _payloads(v)


async def test_the_partners_new_referral_email_gives_the_acknowledgement_deadline(
    referral_env: WorkflowEnvironment, worker: Worker, sessions: SessionFactory, settings: Settings
) -> None:
    env, world = referral_env, World(sessions, settings, ContactChannel.EMAIL)
    handle = await _start(env, worker, world, ack_business_days=3)
    sid = world.services[0].id
    assert sid is not None
    try:
        refer = ReferRequest(sid, "housing", world.agent_id)
        ref = (await handle.execute_update(ReferralCaseWorkflow.refer, refer)).ref
    finally:
        # its timers would fire with no worker left and hold the module's time-skipping server still
        await handle.terminate("test over")
    sent = world.referral(ref)
    assert sent.sent_at is not None
    # the 3rd French business day after the day it was sent (Paris), as the partner reads it
    last_day = ack_deadline(as_utc(sent.sent_at).astimezone(PARIS).date(), 3)
    bodies = [str(m.get("body", "")) for m in sent_emails(settings) if f"Nouvelle orientation {ref}" in str(m)]
    assert len(bodies) == 1
    assert f"Merci d'en accuser réception au plus tard le {format_date_fr(last_day)}, puis" in bodies[0]
    assert "avant le ," not in bodies[0] and "le ," not in bodies[0]


async def test_case_with_three_referrals_runs_to_anonymisation(
    referral_env: WorkflowEnvironment, worker: Worker, sessions: SessionFactory, settings: Settings
) -> None:
    env, world = referral_env, World(sessions, settings, ContactChannel.SMS)
    attachment_key = world.add_attachment()
    # a 10-business-day SLA so that the first reminder (day 10) comes before the escalation
    handle = await _start(env, worker, world, ack_business_days=10, follow_up_days=7)
    svc = [s.id for s in world.services]
    assert all(svc)
    agent = world.agent_id
    refs = [
        (await handle.execute_update(ReferralCaseWorkflow.refer, ReferRequest(sid, "housing", agent))).ref
        for sid in svc[:3]
    ]
    r1, r2, r3 = refs
    assert refs == [f"{world.case_ref}-01", f"{world.case_ref}-02", f"{world.case_ref}-03"]
    sent = world.referral(r1)
    assert sent.status == ReferralState.OPEN and sent.sent_at is not None and sent.link_expires_at is not None
    assert as_utc(sent.sla_deadline) == ack_deadline_at(as_utc(sent.sent_at), 10)
    assert sent.link_expires_at - sent.sent_at == timedelta(days=8)
    assert (world.notification(f"{r1}:new") or Notification()).status == "sent"

    # R1: accepted at once, within the SLA
    today = (await env.get_current_time()).date()
    await handle.execute_update(
        ReferralCaseWorkflow.accept,
        PartnerAccept(r1, world.services[0].organization_id, appointment_on=today + timedelta(days=5)),
    )
    accepted = world.referral(r1)
    assert accepted.status == ReferralState.ACCEPTED
    # the day travels as a `date` (its ISO string on the wire) into the state and the projection
    [in_state] = [r for r in (await handle.query(ReferralCaseWorkflow.snapshot)).referrals if r.ref == r1]
    assert in_state.appointment_on == accepted.appointment_on == today + timedelta(days=5)
    assert accepted.answered_at is not None and accepted.sla_deadline is not None
    assert accepted.answered_at < accepted.sla_deadline
    # a partner of another organisation cannot answer R2
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(
            ReferralCaseWorkflow.accept, PartnerAccept(r2, world.services[0].organization_id, contact_made=True)
        )
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "ReferralNotFound"

    # day 10.5: follow-up of R1 went out by SMS at day 7; R2 and R3 reminded once, not escalated yet
    await env.sleep(timedelta(days=10, hours=12))
    follow_up = world.referral(r1)
    assert follow_up.follow_up_channel == "sms" and follow_up.follow_up_done_at is not None
    sms = world.notification(f"{r1}:follow-up")
    assert sms is not None and (sms.channel, sms.status, sms.template) == ("sms", "sent", "referral_family_followup")
    reminded = world.referral(r2)
    assert reminded.reminders_sent == 1 and reminded.escalated_at is None
    assert reminded.links_issued == 2  # the reminder carries a fresh 8-day link
    assert world.notification(f"{r2}:reminder:1") is not None

    # after the SLA deadline: R2 and R3 escalated to the relay's coordinator
    assert reminded.sla_deadline is not None
    await _skip_to(env, as_utc(reminded.sla_deadline) + timedelta(hours=1))
    escalated = world.referral(r2)
    assert escalated.escalated_at is not None and escalated.last_reminder_at is not None
    assert escalated.last_reminder_at < escalated.escalated_at
    assert world.notification(f"{r2}:escalation:{world.coordinator_id}") is not None
    assert world.case().business_status == "sla_breached"

    # R2 refused with a reason and a message, then re-referred to another partner
    note_id = world.note("Plus de place avant septembre, désolé.")
    await handle.execute_update(
        ReferralCaseWorkflow.refuse,
        PartnerRefuse(r2, world.services[1].organization_id, RefusalReason.COMPLET, note_id,
                      ActorKind.PARTNER_LINK),
    )  # fmt: skip
    refused = world.referral(r2)
    assert (refused.status, refused.refusal_reason, refused.refusal_note_id) == ("refused", "complet", note_id)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(
            ReferralCaseWorkflow.accept, PartnerAccept(r2, world.services[1].organization_id, contact_made=True)
        )
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == ILLEGAL
    assert "Impossible d'accepter une orientation refusée" in err.value.cause.message
    with pytest.raises(WorkflowUpdateFailedError) as err:  # not to the partner who refused
        await handle.execute_update(ReferralCaseWorkflow.refer, ReferRequest(svc[1], "housing", agent, r2))
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == REJECTED
    r4 = (await handle.execute_update(ReferralCaseWorkflow.refer, ReferRequest(svc[3], "housing", agent, r2))).ref
    assert world.referral(r2).replaced_by_ref == r4 and world.referral(r4).replaces_ref == r2
    await handle.execute_update(
        ReferralCaseWorkflow.accept, PartnerAccept(r4, world.services[3].organization_id, contact_made=True)
    )

    # R3 never answered: reminded twice, then expired 30 days after it was sent
    r3_sent = world.referral(r3).sent_at
    assert r3_sent is not None
    await _skip_to(env, as_utc(r3_sent) + timedelta(days=30, hours=1))
    expired = world.referral(r3)
    assert (expired.status, expired.reminders_sent) == ("expired", 2) and expired.escalated_at is not None
    assert world.notification(f"{r3}:expired") is not None

    # closure with an outcome
    await handle.execute_update(ReferralCaseWorkflow.close, CloseCaseRequest(CaseOutcome.PARTIALLY_RESOLVED, agent))
    closed = world.case()
    assert (closed.status, closed.outcome, closed.business_status) == ("closed", "partially_resolved", "closed")
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(ReferralCaseWorkflow.refer, ReferRequest(svc[2], "housing", agent))

    # six months after opening: attachments deleted from S3 and marked in the database
    opened_at = as_utc(closed.opened_at)
    await _skip_to(env, attachments_delete_at(opened_at) + timedelta(hours=1))
    assert world.s3_keys() == []
    with sessions() as s:
        att = s.exec(select(ReferralAttachment).where(ReferralAttachment.s3_key == attachment_key)).one()
    assert att.status == "deleted" and att.deleted_at is not None
    assert world.case().anonymised_at is None and world.case().contact_name == FAMILY_NAME

    # 730 days: anonymised in the database (the workflow then completes)
    result = await handle.result()
    assert result.anonymised_at is not None and result.anonymised_at - opened_at >= timedelta(days=730)
    assert result.referrals == {r1: "accepted", r2: "refused", r3: "expired", r4: "accepted"}
    gone = world.case()
    assert (gone.status, gone.contact_name, gone.contact_email, gone.contact_phone) == (
        "anonymised", ANONYMISED_NAME, None, None,
    )  # fmt: skip
    assert gone.situation == "" and gone.partner_summary == ""
    with sessions() as s:
        assert s.get_one(ReferralNote, note_id).body == ""
        assert s.get_one(ReferralAttachment, att.id).filename == ANONYMISED_NAME
    assert world.s3_keys() == []

    # the append-only history tells the whole story, in order and without gaps
    history = world.history()
    assert [h.seq for h in history] == list(range(1, len(history) + 1))
    events = [(h.event, h.referral_id is not None) for h in history]
    assert events[0] == (HistoryEvent.CASE_OPENED, False)
    assert events[-3:] == [
        (HistoryEvent.CASE_CLOSED, False),
        (HistoryEvent.ATTACHMENTS_DELETED, False),
        (HistoryEvent.CASE_ANONYMISED, False),
    ]
    r2_id = world.referral(r2).id
    r2_events = [h.event for h in history if h.referral_id == r2_id]
    assert r2_events == [
        "referral_created", "referral_sent", "referral_reminded", "referral_escalated", "referral_refused",
        "referral_replaced",
    ]  # fmt: skip
    assert not any(h.partner_visible for h in history if h.event == HistoryEvent.REFERRAL_ESCALATED)

    # no personal data anywhere in the workflow's history, even once its payloads are decrypted
    history_proto = await handle.fetch_history()
    payloads = [p for e in history_proto.events for p in _payloads(e)]
    codec = env.client.data_converter.payload_codec
    assert codec is not None and payloads
    plain = b"".join(p.data for p in await codec.decode(payloads))
    assert world.case_ref.encode() in plain
    for secret in (FAMILY_NAME, FAMILY_PHONE, FAMILY_EMAIL, "Plus de place", "avis-imposition"):
        assert secret.encode() not in plain
    # and the code replays its own two-year history deterministically
    replayer = Replayer(workflows=[ReferralCaseWorkflow], data_converter=env.client.data_converter)
    replay = await replayer.replay_workflow(history_proto, raise_on_replay_failure=False)
    assert replay.replay_failure is None


async def test_case_state_survives_continue_as_new(
    referral_env: WorkflowEnvironment, worker: Worker, sessions: SessionFactory, settings: Settings
) -> None:
    env, world = referral_env, World(sessions, settings, ContactChannel.PHONE)
    handle = await _start(env, worker, world, history_limit=40)
    first_run = (await handle.describe()).run_id
    svc = world.services
    ref = (await handle.execute_update(ReferralCaseWorkflow.refer, ReferRequest(svc[0].id or 0, "housing",
                                                                             world.agent_id))).ref  # fmt: skip
    await handle.execute_update(ReferralCaseWorkflow.accept, PartnerAccept(ref, svc[0].organization_id,
                                                                           contact_made=True))  # fmt: skip
    # the next timer (the phone follow-up) wakes the loop, which continues as new past 40 events
    await env.sleep(timedelta(days=16))
    latest = env.client.get_workflow_handle(handle.id)
    assert (await latest.describe()).run_id != first_run
    state = await latest.query(ReferralCaseWorkflow.snapshot)
    assert [(r.ref, r.state) for r in state.referrals] == [(ref, ReferralState.ACCEPTED)]
    assert state.referrals[0].follow_up_channel == "phone"  # the agent was asked to call the family
    call = world.notification(f"{ref}:follow-up")
    assert call is not None and (call.template, call.status) == ("referral_agent_followup_call", "sent")
    # updates reach the new run, and the history keeps counting from where it was
    second = (await latest.execute_update(ReferralCaseWorkflow.refer, ReferRequest(svc[1].id or 0, "housing",
                                                                                 world.agent_id))).ref  # fmt: skip
    assert second == f"{world.case_ref}-02"
    seqs = [h.seq for h in world.history()]
    assert seqs == list(range(1, len(seqs) + 1))


def test_every_notice_renders_in_french_and_goes_out(sessions: SessionFactory, settings: Settings) -> None:
    world = World(sessions, settings, ContactChannel.EMAIL)
    notifier = Notifier(sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), settings)
    activities = ReferralActivities(sessions, aws_client(settings, "s3"), notifier, settings)
    now, svc = datetime.now(UTC), world.services[0]
    ref = f"{world.case_ref}-01"
    created = activities.create_referral(CreateReferralInput(world.case_ref, ref, svc.id or 0, "housing", now))
    assert created.organization_id == svc.organization_id
    process = ReferralProcess(ref, svc.id or 0, svc.organization_id, "housing", ReferralState.ACCEPTED,
                              opened_at=now, sla_deadline=now + timedelta(days=3), answered_at=now,
                              appointment_on=date(2027, 1, 5))  # fmt: skip
    entry = HistoryEntry(1, now, HistoryEvent.REFERRAL_ACCEPTED, ActorKind.PARTNER)
    case = CaseProjection(CaseStatus.OPEN, CaseBusinessStatus.OPEN, opened_at=now)
    activities.record(RecordInput(world.case_ref, entry, case, process))
    activities.record(RecordInput(world.case_ref, entry, case, process))  # a retry records nothing twice
    assert len(world.history()) == 1
    assert world.referral(ref).appointment_on == date(2027, 1, 5)
    for kind in NoticeKind:
        result = activities.notify(NoticeInput(world.case_ref, kind, f"{ref}:test:{kind.value}", ref,
                                               now + timedelta(days=8)))  # fmt: skip
        assert result.sent == 1 and result.channel == "email", kind
    subjects = {str(m.get("subject")) for m in httpx.get(f"{settings.aws_endpoint_url}/moto-api/data.json",
                                                         timeout=10).json()["ses"].get("Message", [])}  # fmt: skip
    assert f"Nouvelle orientation {ref} — Logement" in subjects
    assert f"Orientation {ref} acceptée" in subjects
    assert f"Délai dépassé : orientation {ref} sans prise en compte" in subjects

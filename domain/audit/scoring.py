"""Site scores, label decisions, corrective actions and campaign summaries (exact arithmetic)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from domain.audit.checklist import FieldError, parse_answers
from domain.audit.criteria import Answer, AnswerType, AuditMode, Criterion, format_decimal
from domain.audit.referentiel import Referentiel
from domain.calendar import is_business_day


class InvalidSubmission(ValueError):
    """Answers cannot be scored; `errors` are the same FieldErrors the checklist reports."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))


def _round_half_up(value: Fraction) -> int:
    """Round a non-negative fraction to the nearest integer, halves up (no float involved)."""
    return int((value * 2 + 1) // 2)


def percent_of(ratio: Fraction) -> Decimal:
    """A ratio in [0, 1] as a percent rounded half up to one decimal."""
    return Decimal(_round_half_up(ratio * 1000)).scaleb(-1).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class CriterionResult:
    """Outcome of one criterion in one audit."""

    criterion: Criterion
    answer: Answer
    earned: Fraction
    passed: bool

    @property
    def code(self) -> str:
        """Criterion code."""
        return self.criterion.code

    @property
    def blocking(self) -> bool:
        """True when this criterion blocks the label on failure."""
        return self.criterion.blocking

    def observed(self) -> str:
        """French rendering of the answer (« non », « 2/4 », « 14 min »)."""
        if self.criterion.answer_type is AnswerType.YES_NO:
            return "oui" if self.answer is True else "non"
        if self.criterion.answer_type is AnswerType.SCALE:
            return f"{self.answer}/{self.criterion.scale_max}"
        unit = f" {self.criterion.unit}" if self.criterion.unit else ""
        return f"{format_decimal(Decimal(self.answer))}{unit}"


@dataclass(frozen=True)
class CommitmentScore:
    """Points for one commitment."""

    commitment_code: str
    earned: Fraction
    possible: int

    @property
    def percent(self) -> Decimal:
        """Percent rounded to 0.1."""
        return percent_of(self.earned / self.possible)


@dataclass(frozen=True)
class SiteScore:
    """Score of a site: weighted points earned out of points possible."""

    results: tuple[CriterionResult, ...]

    def __post_init__(self) -> None:
        if not self.results:
            raise ValueError("a score needs at least one criterion")

    @property
    def earned(self) -> Fraction:
        """Points earned (exact)."""
        return sum((r.earned for r in self.results), Fraction(0))

    @property
    def possible(self) -> int:
        """Points possible."""
        return sum(r.criterion.weight for r in self.results)

    @property
    def ratio(self) -> Fraction:
        """Exact share of points earned, in [0, 1]."""
        return self.earned / self.possible

    @property
    def basis_points(self) -> int:
        """Score in basis points (0–10000), rounded half up."""
        return _round_half_up(self.ratio * 10_000)

    @property
    def percent(self) -> Decimal:
        """Score in percent rounded half up to 0.1 (what reports show and decisions use)."""
        return percent_of(self.ratio)

    @property
    def failed(self) -> tuple[CriterionResult, ...]:
        """Criteria not met, in référentiel order."""
        return tuple(r for r in self.results if not r.passed)

    @property
    def blocking_failed(self) -> bool:
        """True when a blocking criterion failed."""
        return any(r.blocking for r in self.failed)

    def by_commitment(self) -> dict[str, CommitmentScore]:
        """Points per commitment, in référentiel order."""
        earned: dict[str, Fraction] = {}
        possible: dict[str, int] = {}
        for r in self.results:
            key = r.criterion.commitment_code
            earned[key] = earned.get(key, Fraction(0)) + r.earned
            possible[key] = possible.get(key, 0) + r.criterion.weight
        return {k: CommitmentScore(k, earned[k], possible[k]) for k in earned}


def score_site(
    referentiel: Referentiel, site_type: str, mode: AuditMode | str, answers: Mapping[str, object]
) -> SiteScore:
    """Score one audit; raise InvalidSubmission when answers are missing, extra or malformed."""
    parsed, errors = parse_answers(referentiel, site_type, mode, answers)
    if errors:
        raise InvalidSubmission(errors)
    results = []
    for criterion in referentiel.criteria_for(site_type, mode):
        answer = parsed[criterion.code]
        results.append(CriterionResult(criterion, answer, criterion.points(answer), criterion.passes(answer)))
    return SiteScore(tuple(results))


def combine_scores(scores: Iterable[SiteScore]) -> SiteScore:
    """One score for a site audited in several modes: the points of every audit pooled."""
    results = tuple(r for s in scores for r in s.results)
    return SiteScore(results)


class LabelDecision(StrEnum):
    """Label outcome for a site."""

    GRANTED = "granted"
    GRANTED_WITH_RESERVATIONS = "granted_with_reservations"
    REFUSED = "refused"

    @property
    def label(self) -> str:
        """French label."""
        return _DECISION_LABELS[self]


_DECISION_LABELS = {
    LabelDecision.GRANTED: "Label attribué",
    LabelDecision.GRANTED_WITH_RESERVATIONS: "Label attribué avec réserves",
    LabelDecision.REFUSED: "Label refusé",
}


def decide_label(score: SiteScore, threshold_pct: Decimal | int | str, blocking_failed: bool = False) -> LabelDecision:
    """Refused below the threshold or on any blocking failure; with reservations if anything failed.

    The rounded `score.percent` is compared, so a published « 85,0 % » always meets an 85 % threshold.
    `blocking_failed` lets a reviewer add a blocking finding outside the grid; it can only make the
    decision stricter, since blocking failures inside the grid are taken from the score itself.
    """
    threshold = Decimal(str(threshold_pct))
    if not Decimal(0) <= threshold <= Decimal(100):
        raise ValueError(f"threshold_pct must be between 0 and 100, got {threshold_pct}")
    if blocking_failed or score.blocking_failed or score.percent < threshold:
        return LabelDecision.REFUSED
    if score.failed:
        return LabelDecision.GRANTED_WITH_RESERVATIONS
    return LabelDecision.GRANTED


class ActionPriority(StrEnum):
    """Urgency of a corrective action."""

    HIGH = "high"
    NORMAL = "normal"


@dataclass(frozen=True)
class CorrectiveAction:
    """Something a site must fix before its re-audit."""

    criterion_code: str
    commitment_code: str
    description: str
    owner: str
    due_on: date
    priority: ActionPriority


def corrective_actions(
    failed: Iterable[CriterionResult], owner: str, today: date, due_in_days: int
) -> list[CorrectiveAction]:
    """One action per failed criterion (duplicates across modes merged), blocking ones first.

    Passed results are ignored, so `score.results` can be given as is. The due date is
    `today + due_in_days` calendar days, moved to the next business day when it falls on a weekend
    or a public holiday.
    """
    if due_in_days < 0:
        raise ValueError("due_in_days must be >= 0")
    if not owner:
        raise ValueError("an action needs an owner")
    due_on = today + timedelta(days=due_in_days)
    while not is_business_day(due_on):
        due_on += timedelta(days=1)
    seen: dict[str, CorrectiveAction] = {}
    for result in failed:
        c = result.criterion
        if result.passed or c.code in seen:
            continue
        seen[c.code] = CorrectiveAction(
            criterion_code=c.code,
            commitment_code=c.commitment_code,
            description=(
                f"Rétablir le respect du critère {c.code} « {c.label} » "
                f"(attendu : {c.rule()}, constaté : {result.observed()})."
            ),
            owner=owner,
            due_on=due_on,
            priority=ActionPriority.HIGH if c.blocking else ActionPriority.NORMAL,
        )
    actions = list(seen.values())
    # stable sort keeps référentiel order inside each priority
    actions.sort(key=lambda a: a.priority is not ActionPriority.HIGH)
    return actions


@dataclass(frozen=True)
class SiteResult:
    """Final result of one site in a campaign."""

    site_ref: str
    site_type: str
    arrondissement: int
    score: SiteScore
    decision: LabelDecision


@dataclass(frozen=True)
class GroupSummary:
    """Counts and average score for a group of sites."""

    count: int
    granted: int
    granted_with_reservations: int
    refused: int
    average_percent: Decimal | None


@dataclass(frozen=True)
class CampaignSummary:
    """Campaign results overall, by site type and by arrondissement (keys sorted)."""

    overall: GroupSummary
    by_site_type: dict[str, GroupSummary]
    by_arrondissement: dict[int, GroupSummary]


class _Acc:
    def __init__(self) -> None:
        self.count = 0
        self.ratios = Fraction(0)
        self.decisions = dict.fromkeys(LabelDecision, 0)

    def add(self, result: SiteResult) -> None:
        self.count += 1
        self.ratios += result.score.ratio
        self.decisions[result.decision] += 1

    def summary(self) -> GroupSummary:
        return GroupSummary(
            count=self.count,
            granted=self.decisions[LabelDecision.GRANTED],
            granted_with_reservations=self.decisions[LabelDecision.GRANTED_WITH_RESERVATIONS],
            refused=self.decisions[LabelDecision.REFUSED],
            average_percent=percent_of(self.ratios / self.count) if self.count else None,
        )


def aggregate(results: Iterable[SiteResult]) -> CampaignSummary:
    """Summarise site results; the average is the mean of exact site ratios, rounded once."""
    overall = _Acc()
    by_type: dict[str, _Acc] = {}
    by_arr: dict[int, _Acc] = {}
    seen: set[str] = set()
    for result in results:
        if result.site_ref in seen:
            raise ValueError(f"site {result.site_ref} counted twice")
        seen.add(result.site_ref)
        overall.add(result)
        by_type.setdefault(result.site_type, _Acc()).add(result)
        by_arr.setdefault(result.arrondissement, _Acc()).add(result)
    return CampaignSummary(
        overall=overall.summary(),
        by_site_type={k: by_type[k].summary() for k in sorted(by_type)},
        by_arrondissement={k: by_arr[k].summary() for k in sorted(by_arr)},
    )

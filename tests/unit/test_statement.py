"""Pure rules of the family pages: yearly statement per child, IBAN checks, masked IBAN, mandate reference."""

from __future__ import annotations

from datetime import date

import pytest

from domain.payments import CESU_ELIGIBLE_ACTIVITIES
from domain.sepa import holder_error, iban_error, mandate_reference, mask_iban, normalize_iban
from domain.statement import (
    ChildTotals,
    PaidLine,
    Settlement,
    eligible_for_childcare_credit,
    net_of_refund,
    parse_statement_ref,
    split_proportionally,
    statement_ref,
    totals_per_child,
)


def test_split_is_proportional_and_exact() -> None:
    assert split_proportionally(9_000, [10_000, 2_000, 3_000]) == [6_000, 1_200, 1_800]
    # 100 cents over three equal lines: the extra cent goes to the first line
    assert split_proportionally(100, [1, 1, 1]) == [34, 33, 33]
    assert sum(split_proportionally(12_345, [7, 11, 13, 17])) == 12_345
    assert split_proportionally(500, [0, 0]) == [0, 0]
    with pytest.raises(ValueError):
        split_proportionally(-1, [1])


def test_totals_per_child_share_each_payment_over_its_invoice_lines() -> None:
    lines = [PaidLine("EN-1", "creche", 10_000), PaidLine("EN-1", "cantine", 2_000), PaidLine("EN-2", "gouter", 3_000)]
    totals = totals_per_child([Settlement(9_000, lines), Settlement(1_000, [PaidLine("EN-2", "etude", 500)])],
                              CESU_ELIGIBLE_ACTIVITIES)  # fmt: skip
    assert totals == {"EN-1": ChildTotals("EN-1", 7_200, 6_000), "EN-2": ChildTotals("EN-2", 2_800, 1_800)}


def test_refunds_reduce_what_was_paid_pro_rata() -> None:
    assert net_of_refund(6_000, 10_000, 2_500) == 4_500
    assert net_of_refund(6_000, 10_000, 20_000) == 0
    assert net_of_refund(6_000, 0, 0) == 0


def test_childcare_credit_is_for_children_under_six_on_first_january() -> None:
    assert eligible_for_childcare_credit(date(2019, 1, 1), 2025)
    assert not eligible_for_childcare_credit(date(2018, 12, 31), 2025)


def test_statement_reference_round_trips_and_rejects_anything_else() -> None:
    assert statement_ref(2025, "FA-000123") == "AF-2025-FA-000123"
    assert parse_statement_ref("AF-2025-FA-000123") == (2025, "FA-000123")
    assert parse_statement_ref("AF-25-FA-000123") is None
    assert parse_statement_ref("AF-2025-../x") is None


@pytest.mark.parametrize(
    ("iban", "message"),
    [
        ("FR14 2004 1010 0505 0001 3M02 606", None),
        ("fr76-3000-6000-0112-3456-7890-189", None),
        ("DE89 3704 0044 0532 0130 00", None),
        ("", "Saisissez l'IBAN"),
        ("FR15 2004 1010 0505 0001 3M02 606", "clé de contrôle incorrecte"),
        ("FR14 2004 1010", "Un IBAN FR compte 27 caractères ; vous en avez saisi 12."),
        ("US64 SVBK US6S 3300 9673 8637", "zone SEPA"),
        ("1234 5678", "commence par deux lettres"),
    ],
)
def test_iban_errors_say_what_is_wrong_in_french(iban: str, message: str | None) -> None:
    error = iban_error(iban)
    assert error is None if message is None else (error is not None and message in error)


def test_holder_mask_and_mandate_reference() -> None:
    assert holder_error("Camille Dupont-Martin") is None and holder_error("Élise D'Arc") is None
    assert holder_error(" ") is not None and holder_error("x" * 71) is not None and holder_error("J0hn") is not None
    assert normalize_iban(" fr76 3000 ") == "FR763000"
    assert mask_iban("0189", "fr") == "FR•• •••• •••• •••• 0189" and mask_iban("0189") == "•••• •••• •••• 0189"
    ref = mandate_reference("FA-000123", "pm_123")
    assert ref == mandate_reference("FA-000123", "pm_123") != mandate_reference("FA-000123", "pm_124")
    assert ref.startswith("VDP-FA000123-") and len(ref) <= 35
    with pytest.raises(ValueError):
        mandate_reference("FA-000123", "")

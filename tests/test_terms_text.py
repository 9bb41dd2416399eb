"""The objective's terms as text: planner units, bounds and the gap where they belong."""

from __future__ import annotations

from allocator.terms_text import format_gap, format_terms, headline_terms, term_label

OBJ = {
    "undelivered_work_hours": 1234.5,
    "weighted_late_days": 3,
    "weighted_finish_days": 40,
    "cost": 98765.4,
}


def test_terms_in_planner_units_without_a_bound() -> None:
    assert format_terms(OBJ) == (
        "undelivered 1,234.5 h, late 3 weighted days, finish 40 weighted days, "
        "charged cost 98,765.40"
    )
    assert format_terms(None) == "-" and format_terms({}) == "-"
    assert format_terms({"makespan_days": 14}) == "makespan 14 days"


def test_the_gap_goes_with_the_term_it_is_about() -> None:
    bound = {"undelivered_work_hours": 1234.5, "weighted_late_days": 1}
    text = format_terms(OBJ, bound, 0.67)
    assert text.startswith("undelivered 1,234.5 h (proven), late 3 weighted days (bound 1 ")
    assert "gap 67%)" in text and text.count("gap") == 1
    # a progress line: the first term and the one the gap is about, nothing else
    assert headline_terms(OBJ, bound, 0.67) == (
        "undelivered 1,234.5 h (proven), late 3 weighted days (bound 1 weighted days, gap 67%)"
    )
    one = {"undelivered_work_hours": 120.5}
    assert headline_terms(one, {"undelivered_work_hours": 80}, 0.34) == (
        "undelivered 120.5 h (bound 80 h, gap 34%)"
    )


def test_all_proven_is_said_once() -> None:
    assert format_terms(OBJ, OBJ, 0.0).endswith("charged cost 98,765.40 (all proven)")
    assert "(proven)" not in format_terms(OBJ, OBJ, 0.0)
    assert headline_terms(OBJ, OBJ, 0.0) == "undelivered 1,234.5 h (proven)"


def test_numbers_never_turn_to_exponents() -> None:
    big = {"undelivered_work_hours": 123456789.25, "cost": 4503599627370.49}
    text = format_terms(big)
    assert text == "undelivered 123,456,789.25 h, charged cost 4,503,599,627,370.49"
    assert "e+" not in text


def test_gap_and_labels() -> None:
    assert format_gap(None) == "-" and format_gap(0.0) == "0%"
    assert format_gap(0.07) == "7%" and format_gap(0.0125) == "1.25%"
    assert term_label("undelivered_work_hours") == "undelivered work (priority-weighted hours)"
    assert term_label("unknown_term") == "unknown_term"

"""The objective's weights keep the lexicographic order (see ``allocator.objective``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from allocator.domain import Portfolio
from allocator.engine import SolveParams, solve
from allocator.generator import generate
from allocator.objective import Terms, evaluate, objective_value, weights

portfolios = st.builds(
    lambda people, projects, seed: generate(people, projects, seed=seed, tasks_per_project=(2, 6)),
    st.integers(1, 8),
    st.integers(1, 4),
    st.integers(0, 10_000),
)


@given(portfolios)
def test_each_weight_exceeds_everything_below_it(portfolio: Portfolio) -> None:
    w = weights(portfolio)
    c_max = w.finish - 1
    f_max = w.late // w.finish - 1
    l_max = w.undelivered // w.late - 1
    # the largest possible lower part is below one unit of the next term
    assert c_max < w.finish
    assert w.finish * f_max + c_max < w.late
    assert w.late * l_max + w.finish * f_max + c_max < w.undelivered
    # and the terms of real plans stay within those maxima
    for params in (SolveParams(greedy_only=True), SolveParams(time_limit=1, workers=1)):
        plan = solve(portfolio, params).plan
        t = evaluate(portfolio, plan)
        assert 0 <= t.cost <= c_max and 0 <= t.finish <= f_max and 0 <= t.late <= l_max
        assert objective_value(portfolio, plan) == w.combine(t)


@given(portfolios, st.data())
def test_combined_value_orders_like_the_terms(portfolio: Portfolio, data: st.DataObject) -> None:
    w = weights(portfolio)
    c_max, f_max = w.finish - 1, w.late // w.finish - 1
    l_max = w.undelivered // w.late - 1

    def terms() -> Terms:
        return Terms(
            data.draw(st.integers(0, 10**7)),
            data.draw(st.integers(0, l_max)),
            data.draw(st.integers(0, f_max)),
            data.draw(st.integers(0, c_max)),
        )

    a, b = terms(), terms()
    assert (w.combine(a) < w.combine(b)) == (a.key() < b.key())
    assert (w.combine(a) == w.combine(b)) == (a.key() == b.key())

"""Risk (allocator.risk): a Monte Carlo over a plan's durations.

- with no spread at all every figure is 0 or 1 (or one date) and agrees with the plan;
- the vectorized re-timing agrees run by run with a brute-force loop written here from the
  contract (timeline functions, every earlier task of a person, no shared code with the model);
- on generated small portfolios: probabilities in [0, 1], P50 <= P80 <= P95;
- the command line: JSON shape, exit code 2 on bad input.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from allocator.analytics import project_frame
from allocator.cli import example_path, main
from allocator.contract import dump_plan, load_portfolio
from allocator.domain import Plan, Portfolio
from allocator.engine import SolveParams, solve
from allocator.objective import late_days
from allocator.risk import retime, risk_model, simulate, triangular
from allocator.timeline import Timeline, availability, effort_duration
from tests.strategies import small

GREEDY = SolveParams(greedy_only=True, workers=1, time_limit=2)


def _late_example() -> tuple[Portfolio, Plan]:
    """The bundled example with crm's deadline pulled to 10 Feb (crm is then late), estimates
    removed, planned by the greedy."""
    p = load_portfolio(example_path())
    projects = tuple(
        replace(
            pr,
            deadline=date(2027, 2, 10) if pr.id == "crm" else pr.deadline,
            tasks=tuple(replace(t, estimate=None) for t in pr.tasks),
        )
        for pr in p.projects
    )
    p = replace(p, projects=projects)
    return p, solve(p, GREEDY).plan


@pytest.fixture(scope="module")
def late_example() -> tuple[Portfolio, Plan]:
    return _late_example()


def test_triangular_inverse_cdf() -> None:
    u = np.array([0.0, 0.5, 0.999999])
    x = triangular(u, np.array(1.0), np.array(2.0), np.array(3.0))
    # symmetric on (1, 2, 3): the median is the mode; the ends are the bounds
    assert (
        x[0] == pytest.approx(1.0)
        and x[1] == pytest.approx(2.0)
        and x[2] == pytest.approx(3, abs=1e-2)
    )
    assert triangular(u, np.array(5.0), np.array(5.0), np.array(5.0)).tolist() == [5.0] * 3


def test_no_spread_agrees_with_the_plan(late_example: tuple[Portfolio, Plan]) -> None:
    p, plan = late_example
    r = simulate(p, plan, runs=50, seed=3, default_spread=(0.0, 0.0))
    tl = Timeline.of(p)
    late_seen = False
    for a in plan.assignments:
        t = r.tasks[a.task]
        assert t["p50_finish"] == t["p80_finish"] == t["p95_finish"] == a.finish.isoformat()
        task = p.task_by_id[a.task]
        if p.task_deadline(task) is None:
            assert t["p_on_time"] is None
        else:
            late = late_days(p, tl, task, tl.idx(a.finish) or 0) > 0
            late_seen |= late
            assert t["p_on_time"] == (0.0 if late else 1.0)
        assert t["criticality"] in (0.0, 1.0)
    frame = project_frame(p, plan).set_index("project")
    for pid, v in r.projects.items():
        assert v["p50_finish"] == v["p95_finish"] == frame.loc[pid, "finish"].date().isoformat()
        if v["p_on_time"] is not None:
            assert v["p_on_time"] == (0.0 if frame.loc[pid, "late"] else 1.0)
    assert late_seen and r.projects["crm"]["p_on_time"] == 0.0
    # the late project's drivers are its chain in every run, ending at its last task
    assert r.projects["crm"]["drivers"] and all(
        d["share_of_late_runs"] == 1.0 for d in r.projects["crm"]["drivers"]
    )


def _brute_force(p: Portfolio, plan: Plan, days: tuple[date, ...], u: np.ndarray,
                 order: list[str], spread: tuple[float, float]) -> np.ndarray:  # fmt: skip
    """Finish day per task (``order``) and run, one run and task at a time, from the contract."""
    tl = Timeline(days)
    n = len(days)
    asg = {a.task: a for a in plan.assignments}
    avail = {x.id: availability(p, tl, x) for x in p.people}
    out = np.zeros((len(order), u.shape[1]), dtype=np.int64)
    for r in range(u.shape[1]):
        fin: dict[str, int] = {}
        for k, tid in enumerate(order):
            task, a = p.task_by_id[tid], asg[tid]
            nom = float(task.nominal or 0)
            lo, hi = nom * (1 - spread[0]), nom * (1 + spread[1])
            if task.estimate is not None:
                lo, hi = task.estimate.low, task.estimate.high
            x = float(u[k, r])
            c = (nom - lo) / (hi - lo) if hi > lo else 0.0
            if hi <= lo:
                amount = nom
            elif x < c:
                amount = lo + math.sqrt(x * (hi - lo) * (nom - lo))
            else:
                amount = hi - math.sqrt((1 - x) * (hi - lo) * (hi - nom))
            if task.effort_hours is not None:
                person = p.person_by_id[a.people[0]]
                dur = effort_duration(amount, person.day_hours, task.alloc)
            else:
                dur = max(1, math.ceil(round(amount, 9)))
            ready = tl.idx(a.start) or 0
            for pred in task.predecessors:
                if pred in fin:
                    ready = max(ready, fin[pred] + 1)
            for other in order[:k]:  # every earlier task of one of its people
                o = asg[other]
                if set(o.people) & set(a.people) and o.finish < a.start:
                    ready = max(ready, fin[other] + 1)
            w, left = ready, dur
            while w < n:
                if all(avail[pid][w] for pid in a.people):
                    left -= 1
                    if left == 0:
                        break
                w += 1
            fin[tid] = w if left == 0 else n
            out[k, r] = fin[tid]
    return out


def test_vectorized_agrees_with_a_brute_force_loop(late_example: tuple[Portfolio, Plan]) -> None:
    p, plan = late_example
    spread = (0.5, 1.0)
    model = risk_model(p, plan, spread)
    u = np.random.default_rng(7).random((len(model.tasks), 60))
    fin, _ = retime(model, model.durations(u))
    order = [t.id for t in model.tasks]
    expected = _brute_force(p, plan, model.days, u, order, spread)
    assert (fin == expected).all()
    # the spread moved dates: the check compares something
    planned = model.finish[:, None]
    assert (fin > planned).any() and (fin < planned).any()
    # and simulate() reads the same samples
    r = simulate(p, plan, model=model, uniforms=u)
    k = order.index("crm-test")
    dl = model.deadline[k]
    assert dl is not None
    assert r.tasks["crm-test"]["p_on_time"] == pytest.approx(float((expected[k] <= dl).mean()))


def test_same_seed_same_figures(late_example: tuple[Portfolio, Plan]) -> None:
    p, plan = late_example
    a = simulate(p, plan, runs=300, seed=11).as_dict()
    b = simulate(p, plan, runs=300, seed=11).as_dict()
    c = simulate(p, plan, runs=300, seed=12).as_dict()
    assert a == b and a != c


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small)
def test_generated_probabilities_and_percentiles(p: Portfolio) -> None:
    plan = solve(p, GREEDY).plan
    r = simulate(p, plan, runs=200, seed=0, default_spread=(0.3, 0.6))
    assert set(r.tasks) == {a.task for a in plan.assignments}
    for v in [*r.tasks.values(), *r.projects.values()]:
        assert v["p_on_time"] is None or 0.0 <= v["p_on_time"] <= 1.0
        # null: that share of runs never finishes (its people leave first): after any date
        q = [v[f"p{k}_finish"] or "9999" for k in (50, 80, 95)]
        assert q[0] <= q[1] <= q[2]
    for v in r.tasks.values():
        assert 0.0 <= v["criticality"] <= 1.0


def test_cli_risk_json_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p, plan = _late_example()
    from allocator.contract import dump_portfolio

    dump_portfolio(p, tmp_path / "p.json")
    dump_plan(plan, tmp_path / "plan.json")
    capsys.readouterr()
    args = [str(tmp_path / "p.json"), "--plan", str(tmp_path / "plan.json"), "--runs", "100"]
    assert main(["risk", *args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["projects"]) == {pr.id for pr in p.projects}
    for v in out["projects"].values():
        assert {"p_on_time", "p50_finish", "p80_finish", "p95_finish"} <= set(v)
    assert set(out["tasks"]) == {a.task for a in plan.assignments}
    assert main(["risk", *args, "--default-spread", "0,0"]) == 0
    assert "crm: on time 0.0 %" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["risk", *args, "--runs", "0"])
    assert exc.value.code == 2


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small)
def test_generated_no_spread_agrees_with_the_plan(p: Portfolio) -> None:
    p = replace(
        p,
        projects=tuple(
            replace(pr, tasks=tuple(replace(t, estimate=None) for t in pr.tasks))
            for pr in p.projects
        ),
    )
    plan = solve(p, GREEDY).plan
    r = simulate(p, plan, runs=20, seed=0, default_spread=(0.0, 0.0))
    tl = Timeline.of(p)
    for a in plan.assignments:
        t = r.tasks[a.task]
        assert t["p50_finish"] == t["p95_finish"] == a.finish.isoformat()
        task = p.task_by_id[a.task]
        if p.task_deadline(task) is not None:
            late = late_days(p, tl, task, tl.idx(a.finish) or 0) > 0
            assert t["p_on_time"] == (0.0 if late else 1.0)


def test_frames_carry_the_result_riskiest_first(late_example: tuple[Portfolio, Plan]) -> None:
    p, plan = late_example
    r = simulate(p, plan, runs=300, seed=1)
    pf = r.projects_frame()
    # every project once, least likely on time first; figures and dates are the result's
    assert sorted(pf["project"]) == sorted(r.projects)
    assert list(pf["p_on_time"]) == sorted(pf["p_on_time"])
    assert pf.loc[0, "project"] == "crm"  # crm is late in the plan itself
    for row in pf.itertuples():
        v = r.projects[row.project]
        assert row.p_on_time == v["p_on_time"] and row.tasks == v["tasks"]
        for q in ("p50_finish", "p80_finish", "p95_finish"):
            assert getattr(row, q).date().isoformat() == v[q]
        assert row.drivers.split(" (")[0] == (v["drivers"][0]["task"] if v["drivers"] else "")
    assert str(pf["p50_finish"].dtype) == "datetime64[ns]"
    tf = r.tasks_frame()
    assert sorted(tf["task"]) == sorted(r.tasks)
    assert list(tf["criticality"]) == sorted(tf["criticality"], reverse=True)
    for row in tf.itertuples():
        v = r.tasks[row.task]
        assert row.project == v["project"] and row.criticality == v["criticality"]
        assert row.planned_finish.date().isoformat() == v["planned_finish"]
        assert (math.isnan(row.p_on_time) and v["p_on_time"] is None) or (
            row.p_on_time == v["p_on_time"]
        )


def test_risk_plot_content(late_example: tuple[Portfolio, Plan]) -> None:
    from allocator import plots

    p, plan = late_example
    r = simulate(p, plan, runs=300, seed=1)
    pf = r.projects_frame()
    fig = plots.risk(r, p)
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"P(on time)", "P50-P95", "P50", "P80", "P95", "planned", "deadline"}
    names = list(pf["project"])
    bars = by_name["P(on time)"]
    assert bars.type == "bar" and bars.orientation == "h" and list(bars.y) == names
    assert list(bars.x) == list(pf["p_on_time"])
    assert list(bars.text) == [f"{v:.0%}" for v in pf["p_on_time"]]
    for q in ("P50", "P80", "P95"):
        assert list(by_name[q].x) == [d.date().isoformat() for d in pf[f"{q.lower()}_finish"]]
    # P50 <= P80 <= P95 per project (ISO dates compare as strings)
    assert all(
        a <= b <= c
        for a, b, c in zip(by_name["P50"].x, by_name["P80"].x, by_name["P95"].x, strict=True)
    )
    assert list(by_name["deadline"].x) == [
        None if p.project_by_id[n].deadline is None else p.project_by_id[n].deadline.isoformat()
        for n in names
    ]
    frame = project_frame(p, plan).set_index("project")
    assert list(by_name["planned"].x) == [frame.loc[n, "finish"].date().isoformat() for n in names]
    # riskiest at the top: plotly draws categories bottom-up
    assert list(fig.layout.yaxis.categoryarray) == names[::-1]
    assert fig.layout.xaxis.title.text == "P(on time)" and fig.layout.xaxis.tickformat == ".0%"
    assert fig.layout.xaxis2.title.text == "finish date" and fig.layout.xaxis2.type == "date"
    assert "300 runs" in fig.layout.title.text

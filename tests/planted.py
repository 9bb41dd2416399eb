"""A makespan portfolio generated around a planted valid plan (shared by property tests)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any


def planted_makespan_portfolio(
    seed: int, n_people: int, n_tasks: int
) -> tuple[dict[str, Any], int]:
    """A makespan portfolio built around a valid plan: tasks laid end to end per person.

    Returns the portfolio and the planted plan's makespan (an upper bound on the optimum).
    """
    rng = random.Random(seed)
    skills = ["a", "b", "c"]
    people: list[dict[str, Any]] = [
        {
            "id": f"p{i}",
            "skills": {s: rng.randint(1, 5) for s in rng.sample(skills, rng.randint(1, 3))},
        }
        for i in range(n_people)
    ]
    busy = [0] * n_people  # next free working day of each person in the planted plan
    tasks = []
    for j in range(n_tasks):
        i = rng.randrange(n_people)
        skill, level = rng.choice(sorted(people[i]["skills"].items()))
        days = rng.randint(1, 4)
        preds = [f"t{k}" for k in range(j) if rng.random() < 0.15]
        # planted start: after the person's previous task (preds may make it later still)
        tasks.append(
            {
                "id": f"t{j}",
                "skill": skill,
                "min_level": rng.randint(1, level),
                "effort_hours": 8 * days,
                "predecessors": preds,
                "_person": i,
                "_days": days,
            }
        )
    finish: dict[str, int] = {}
    for t in tasks:
        i = t.pop("_person")
        days = t.pop("_days")
        start = max([busy[i]] + [finish[p] + 1 for p in t["predecessors"]])
        finish[t["id"]] = start + days - 1
        busy[i] = start + days
    makespan = max(finish.values()) + 1
    weeks = makespan // 5 + 2
    end = date(2027, 1, 4) + timedelta(weeks=weeks) - timedelta(days=3)
    data = {
        "format": "allocator.portfolio/v1",
        "name": "planted",
        "calendar": {"start": "2027-01-04", "end": end.isoformat()},
        "people": people,
        "projects": [{"id": "P", "tasks": tasks}],
        "policy": {"objective": "makespan"},
    }
    return data, makespan

"""What a CP-SAT solve is given and gives back: solver parameters, model options, stage names,
the result, and the stability rule of re-planning."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from solver_models.schedule import Schedule

#: names of the lexicographic stages of the ``portfolio`` objective, in order
PORTFOLIO_STAGES = ("undelivered", "late", "finish", "cost")
#: share of the time limit each stage may use (unused time rolls over to the next stage)
STAGE_SHARE = {"undelivered": 0.55, "late": 0.2, "finish": 0.15, "cost": 0.10}
#: the stage before the objective's that keeps as many pinned tasks as possible (see
#: :func:`solver_models.cpsat.solve_lexicographic`); not a term of the objective
PINS_STAGE = "pins"
#: its share of the time limit when the shares given do not name it (usually it ends at once:
#: the warm start keeps every pin it can, and 0 is a proof)
PINS_SHARE = 0.1
#: the stage that minimizes ``late + weight x moved`` when stability is on (it replaces ``late``)
STABILITY_STAGE = "stability"


@dataclass
class CpSatParams:
    """CP-SAT parameters. Tests use ``workers=1`` and a fixed seed (parallel CP-SAT varies).

    Declared once: ``allocator.pipeline.SolveParams`` extends this class with the solve's own
    switches, and hands each search a plain copy for its share of the time
    (:meth:`for_search`)."""

    #: seconds for the search (for a ``SolveParams``: for the whole solve)
    time_limit: float = 20.0
    workers: int = 2
    seed: int = 0
    #: optional cap on CP-SAT's deterministic time per stage (machine-independent runs)
    deterministic_time: float | None = None
    log_search: bool = False

    def for_search(self, seconds: float) -> CpSatParams:
        """A plain :class:`CpSatParams` with these values and a time limit of ``seconds``."""
        values = {f.name: getattr(self, f.name) for f in fields(CpSatParams)}
        return CpSatParams(**{**values, "time_limit": seconds})


@dataclass(frozen=True)
class ModelOptions:
    """How the model is formulated (the problem it models is a separate, narrowed instance:
    :class:`solver_models.cpsat.problem.Problem`)."""

    #: a relaxation for bounds only: team members only known to be busy on the first and last
    #: active day (``variables.team_member_relaxed``), no pins stage, no hints, no pure pools
    relaxed: bool = False
    #: pure pools (``solver_models.pools``) as one cumulative resource each; off: one variable
    #: per person, for rules that must name people (stability) and to test that both
    #: formulations have the same optimum
    pooling: bool = True
    #: one ``fills`` literal per (group of interchangeable places, person) instead of one per
    #: (place, person) (see ``variables.team_places``); off only to compare both formulations
    group_places: bool = True
    #: which unions of team places' eligible sets get a redundant cumulative
    #: (``constraints.hall``): 0 none, 1 each set and the union of all, 2 also the unions of
    #: two sets (measured best on MSPSP at equal deterministic time; 0 only to compare)
    hall_level: int = 2
    #: at most this many ``hall`` cumulatives (the first found, smallest sets first)
    hall_max: int = 64


#: the default formulation
DEFAULT_OPTIONS = ModelOptions()


@dataclass
class ModelResult:
    """What a CP-SAT run gives back: the best schedule, stage values and bounds."""

    schedule: Schedule | None
    #: per stage: (value, bound, proven optimal)
    stages: dict[str, tuple[int, int, bool]] = field(default_factory=dict)
    infeasible: bool = False
    wall_seconds: float = 0.0
    exact: bool = True


@dataclass
class Stability:
    """The previous plan, as a valid schedule of this instance, and how much it may change.

    ``previous`` holds only the previous assignments that are still valid (see
    ``allocator.rebalance.map_previous``). ``budget``: at most that many of them may change
    (people or start) or become unassigned; ``weight`` > 0 adds the stage ``stability``.
    """

    previous: Schedule
    budget: int | None = None
    weight: int = 0

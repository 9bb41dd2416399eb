"""The CP-SAT formulation, split as PyJobShop's is: the problem a model is built for
(:mod:`.problem`: a whole instance or a narrowed sub-problem), the model and how plans go in
and out (:mod:`.model`), its rules (:mod:`.variables`, :mod:`.constraints`, :mod:`.objective`:
one function per rule, the math in each docstring), the options and results (:mod:`.params`),
and the lexicographic stages (:mod:`.stages`: one runner for the whole model and for LNS).
"""

from solver_models.cpsat.model import POOL_SIZE_MAX_PAIRS, Model, whole_model_size
from solver_models.cpsat.params import (
    DEFAULT_OPTIONS,
    PINS_SHARE,
    PINS_STAGE,
    PORTFOLIO_STAGES,
    STABILITY_STAGE,
    STAGE_SHARE,
    CpSatParams,
    ModelOptions,
    ModelResult,
    Stability,
)
from solver_models.cpsat.problem import Problem, booked_capacity, narrow, whole
from solver_models.cpsat.stages import (
    STOP_POLL,
    ProgressFn,
    StageOutcome,
    StagePlan,
    StageRun,
    cp_solver,
    objective_stages,
    run_stages,
    solve_lexicographic,
    solve_stoppable,
)

__all__ = [
    "DEFAULT_OPTIONS",
    "PINS_SHARE",
    "PINS_STAGE",
    "POOL_SIZE_MAX_PAIRS",
    "PORTFOLIO_STAGES",
    "STABILITY_STAGE",
    "STAGE_SHARE",
    "STOP_POLL",
    "CpSatParams",
    "Model",
    "ModelOptions",
    "ModelResult",
    "Problem",
    "ProgressFn",
    "Stability",
    "StageOutcome",
    "StagePlan",
    "StageRun",
    "booked_capacity",
    "cp_solver",
    "narrow",
    "objective_stages",
    "run_stages",
    "solve_lexicographic",
    "solve_stoppable",
    "whole",
    "whole_model_size",
]

"""allocator: assigns people to project tasks and schedules them, checks and explains the plan."""

from allocator.contract import dump_plan, dump_portfolio, load_plan, load_portfolio
from allocator.domain import Plan, Portfolio
from allocator.errors import InputError, Issue, PlanFormatError, PortfolioError

__all__ = [
    "InputError",
    "Issue",
    "Plan",
    "PlanFormatError",
    "Portfolio",
    "PortfolioError",
    "dump_plan",
    "dump_portfolio",
    "load_plan",
    "load_portfolio",
]
__version__ = "0.1.0"

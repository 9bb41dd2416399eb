"""CP-SAT formulations and heuristics that compile an allocator portfolio and solve it."""

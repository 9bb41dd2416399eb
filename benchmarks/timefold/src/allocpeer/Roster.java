package allocpeer;

import ai.timefold.solver.core.api.domain.solution.PlanningEntityCollectionProperty;
import ai.timefold.solver.core.api.domain.solution.PlanningScore;
import ai.timefold.solver.core.api.domain.solution.PlanningSolution;
import ai.timefold.solver.core.api.score.buildin.bendablelong.BendableLongScore;
import java.util.List;

/**
 * The planning solution: every task's {@link Job}, every extra place's {@link Seat}. Score:
 * one hard level (validity) and four soft levels, in the objective's lexicographic order:
 * undelivered, late, finish, cost (see {@link ScoreCalc}).
 */
@PlanningSolution
public class Roster {
    public Problem problem;

    @PlanningEntityCollectionProperty
    public List<Job> jobs;

    @PlanningEntityCollectionProperty
    public List<Seat> seats;

    @PlanningScore(bendableHardLevelsSize = 1, bendableSoftLevelsSize = 4)
    public BendableLongScore score;

    public Roster() {}

    Roster(Problem problem, List<Job> jobs, List<Seat> seats) {
        this.problem = problem;
        this.jobs = jobs;
        this.seats = seats;
    }
}

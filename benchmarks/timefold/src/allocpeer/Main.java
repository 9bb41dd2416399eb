package allocpeer;

import ai.timefold.solver.core.api.score.buildin.bendablelong.BendableLongScore;
import ai.timefold.solver.core.api.solver.Solver;
import ai.timefold.solver.core.api.solver.SolverConfigOverride;
import ai.timefold.solver.core.api.solver.SolverFactory;
import ai.timefold.solver.core.config.constructionheuristic.ConstructionHeuristicPhaseConfig;
import ai.timefold.solver.core.config.constructionheuristic.decider.forager.ConstructionHeuristicForagerConfig;
import ai.timefold.solver.core.config.constructionheuristic.decider.forager.ConstructionHeuristicPickEarlyType;
import ai.timefold.solver.core.config.constructionheuristic.placer.QueuedEntityPlacerConfig;
import ai.timefold.solver.core.config.heuristic.selector.common.SelectionCacheType;
import ai.timefold.solver.core.config.heuristic.selector.entity.EntitySelectorConfig;
import ai.timefold.solver.core.config.heuristic.selector.move.composite.CartesianProductMoveSelectorConfig;
import ai.timefold.solver.core.config.heuristic.selector.move.generic.ChangeMoveSelectorConfig;
import ai.timefold.solver.core.config.heuristic.selector.value.ValueSelectorConfig;
import ai.timefold.solver.core.config.localsearch.LocalSearchPhaseConfig;
import ai.timefold.solver.core.config.score.director.ScoreDirectorFactoryConfig;
import ai.timefold.solver.core.config.solver.EnvironmentMode;
import ai.timefold.solver.core.config.solver.SolverConfig;
import ai.timefold.solver.core.config.solver.termination.TerminationConfig;
import java.time.Duration;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * {@code java allocpeer.Main INSTANCE.json OUT.json}: solve the instance with Timefold and write
 * the best assignment.
 *
 * <p>Input keys: {@code time_limit_ms} (the whole budget of this process, counted from JVM
 * start), {@code seed}, {@code move_threads} (Timefold's moveThreadCount; 1 = "NONE"),
 * {@code n_days}, {@code people}, {@code tasks} (see {@link Problem}).
 *
 * <p>Phases: (1) a construction heuristic gives each extra team place a person (first fit,
 * places of one task kept distinct by the hard score); (2) a construction heuristic places the
 * jobs one by one, in precedence order with the earliest deadline, then the higher priority,
 * then the larger work first (a ready queue), each at the first (start, person) of the
 * cartesian product, starts ascending, that keeps the hard score, the start being left
 * unassigned when none does; (3) Timefold's default local search (late acceptance over change
 * and swap moves of every variable) until the time limit.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
        Map<String, Object> in = Json.obj(Json.parse(Files.readString(Path.of(args[0]))));
        Problem pb = new Problem(in);
        long limitMs = Json.lng(in.get("time_limit_ms"));
        long seed = Json.lng(in.get("seed"));
        int threads = Json.integer(in.get("move_threads"));

        List<Job> jobs = new ArrayList<>();
        List<Seat> seats = new ArrayList<>();
        for (int k : order(pb)) {
            Problem.TaskData t = pb.tasks[k];
            jobs.add(new Job(t));
            for (int q = 1; q < t.places.length; q++) {
                seats.add(new Seat(k, q, t.places[q]));
            }
        }
        Roster roster = new Roster(pb, jobs, seats);
        SolverConfig cfg = config(seed, threads);
        SolverFactory<Roster> factory = SolverFactory.create(cfg);
        long spent = System.currentTimeMillis() - jvmStart;
        long budget = Math.max(200, limitMs - spent - 300); // 300 ms to write the answer
        Solver<Roster> solver = factory.buildSolver(new SolverConfigOverride<Roster>()
                .withTerminationConfig(new TerminationConfig().withSpentLimit(Duration.ofMillis(budget))));
        long[] improvements = {0};
        long[] lastImprovementMs = {0};
        solver.addEventListener(e -> {
            improvements[0]++;
            lastImprovementMs[0] = e.getTimeMillisSpent();
        });
        long t0 = System.currentTimeMillis();
        Roster best = solver.solve(roster);
        long solveMs = System.currentTimeMillis() - t0;

        StringBuilder out = new StringBuilder("{\"score\": ");
        BendableLongScore score = best.score;
        out.append(Json.quote(String.valueOf(score)));
        out.append(", \"feasible\": ").append(score != null && score.isFeasible());
        out.append(", \"solve_ms\": ").append(solveMs);
        out.append(", \"setup_ms\": ").append(t0 - jvmStart);
        out.append(", \"budget_ms\": ").append(budget);
        out.append(", \"best_updates\": ").append(improvements[0]);
        out.append(", \"last_improvement_ms\": ").append(lastImprovementMs[0]);
        out.append(", \"assignments\": [");
        Seat[][] seatsOf = new Seat[pb.tasks.length][];
        for (Seat st : best.seats) {
            Seat[] row = seatsOf[st.job];
            if (row == null) {
                row = seatsOf[st.job] = new Seat[pb.tasks[st.job].places.length];
            }
            row[st.place] = st;
        }
        boolean first = true;
        for (Job j : best.jobs) {
            if (j.start == null || j.start == Job.UNASSIGNED) {
                continue;
            }
            Problem.TaskData t = pb.tasks[j.index];
            List<Integer> who = new ArrayList<>();
            boolean complete = true;
            for (int q = 0; q < t.places.length; q++) {
                Integer p = q == 0 ? j.person : seatsOf[j.index][q].person;
                if (p == null) {
                    complete = false;
                }
                who.add(p);
            }
            if (!complete) {
                continue;
            }
            out.append(first ? "" : ", ").append("[").append(j.index).append(", ").append(j.start);
            out.append(", ").append(who.toString()).append("]");
            first = false;
        }
        out.append("]}\n");
        Files.writeString(Path.of(args[1]), out.toString(), StandardCharsets.UTF_8);
    }

    /** Jobs in precedence order, ready tasks by (deadline, -priority, -units, index). */
    static int[] order(Problem pb) {
        int n = pb.tasks.length;
        int[] indeg = new int[n];
        for (Problem.TaskData t : pb.tasks) {
            indeg[t.index] = t.preds.length;
        }
        Comparator<Problem.TaskData> cmp =
                Comparator.<Problem.TaskData>comparingInt(
                                t -> t.deadline == Integer.MIN_VALUE ? Integer.MAX_VALUE : t.deadline)
                        .thenComparingLong(t -> -t.prio)
                        .thenComparingLong(t -> -t.units)
                        .thenComparingInt(t -> t.index);
        PriorityQueue<Problem.TaskData> ready = new PriorityQueue<>(cmp);
        for (Problem.TaskData t : pb.tasks) {
            if (indeg[t.index] == 0) {
                ready.add(t);
            }
        }
        int[] out = new int[n];
        int m = 0;
        while (!ready.isEmpty()) {
            Problem.TaskData t = ready.poll();
            out[m++] = t.index;
            for (int w : t.succs) {
                if (--indeg[w] == 0) {
                    ready.add(pb.tasks[w]);
                }
            }
        }
        if (m != n) {
            throw new IllegalStateException("precedence cycle");
        }
        return Arrays.copyOf(out, m);
    }

    static SolverConfig config(long seed, int threads) {
        ConstructionHeuristicForagerConfig firstFit = new ConstructionHeuristicForagerConfig()
                .withPickEarlyType(
                        ConstructionHeuristicPickEarlyType.FIRST_FEASIBLE_SCORE_OR_NON_DETERIORATING_HARD);
        ConstructionHeuristicPhaseConfig seatsPhase = new ConstructionHeuristicPhaseConfig()
                .withEntityPlacerConfig(new QueuedEntityPlacerConfig()
                        .withEntitySelectorConfig(placer("seatSel", Seat.class))
                        .withMoveSelectorConfigs(change("seatSel", "person")))
                .withForagerConfig(firstFit);
        ConstructionHeuristicPhaseConfig jobsPhase = new ConstructionHeuristicPhaseConfig()
                .withEntityPlacerConfig(new QueuedEntityPlacerConfig()
                        .withEntitySelectorConfig(placer("jobSel", Job.class))
                        .withMoveSelectorConfigs(new CartesianProductMoveSelectorConfig()
                                .withMoveSelectors(change("jobSel", "start"), change("jobSel", "person"))))
                .withForagerConfig(firstFit.copyConfig());
        SolverConfig cfg = new SolverConfig()
                .withEnvironmentMode(EnvironmentMode.NO_ASSERT)
                .withRandomSeed(seed)
                .withSolutionClass(Roster.class)
                .withEntityClasses(Job.class, Seat.class)
                .withScoreDirectorFactory(new ScoreDirectorFactoryConfig()
                        .withIncrementalScoreCalculatorClass(ScoreCalc.class))
                .withPhases(seatsPhase, jobsPhase, new LocalSearchPhaseConfig());
        if (threads > 1) {
            cfg.setMoveThreadCount(String.valueOf(threads));
        }
        return cfg;
    }

    private static EntitySelectorConfig placer(String id, Class<?> entityClass) {
        return new EntitySelectorConfig()
                .withId(id)
                .withEntityClass(entityClass)
                .withCacheType(SelectionCacheType.PHASE);
    }

    private static ChangeMoveSelectorConfig change(String placerId, String variable) {
        return new ChangeMoveSelectorConfig()
                .withEntitySelectorConfig(EntitySelectorConfig.newMimicSelectorConfig(placerId))
                .withValueSelectorConfig(new ValueSelectorConfig(variable));
    }
}

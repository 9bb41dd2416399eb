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
import ai.timefold.solver.core.config.heuristic.selector.move.composite.UnionMoveSelectorConfig;
import ai.timefold.solver.core.config.heuristic.selector.move.factory.MoveIteratorFactoryConfig;
import ai.timefold.solver.core.config.heuristic.selector.move.generic.RuinRecreateMoveSelectorConfig;
import ai.timefold.solver.core.config.heuristic.selector.move.generic.SwapMoveSelectorConfig;
import ai.timefold.solver.core.config.localsearch.LocalSearchPhaseConfig;
import ai.timefold.solver.core.config.phase.PhaseConfig;
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
 * <p>Input keys: {@code time_limit_ms} (the local search's time; reading the instance, the
 * first plan and building the solver come before it, as the engine's limit leaves out compiling
 * and its greedy), {@code seed}, {@code move_threads} (Timefold's moveThreadCount; 1 = "NONE"),
 * {@code n_days}, {@code people}, {@code tasks} (see {@link Problem}); optional:
 * {@code initial} (a warm start, {@code [task, start, [people by place]]} rows), {@code
 * construct} (false: Timefold's own first-fit construction heuristics instead of
 * {@link Construct}), {@code moves} ({@code "expert"}, default, or {@code "default"}).
 *
 * <p>Phases: the first plan (the warm start, else the best of {@link Construct}'s list
 * schedules, else Timefold's first-fit construction heuristics: team seats, then jobs in
 * precedence and deadline order), then local search (late acceptance) until the time limit,
 * over change and swap moves of every variable, Ruin &amp; Recreate of the starts,
 * {@link ShiftMoves} (a new start pushing the successors) and {@link InsertMoves} (an unassigned
 * job in, the jobs in its way out).
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

        long clock = System.currentTimeMillis(); // the instance is read
        boolean construct = !Boolean.FALSE.equals(in.get("construct"));
        String moves = in.containsKey("moves") ? (String) in.get("moves") : "expert";

        List<Job> jobs = new ArrayList<>();
        List<Seat> seats = new ArrayList<>();
        Job[] jobOf = new Job[pb.tasks.length];
        Seat[][] seatsOf = new Seat[pb.tasks.length][];
        for (int k : order(pb)) {
            Problem.TaskData t = pb.tasks[k];
            Job j = new Job(t);
            jobs.add(j);
            jobOf[k] = j;
            seatsOf[k] = new Seat[Math.max(0, t.places.length - 1)];
            for (int q = 1; q < t.places.length; q++) {
                Seat st = new Seat(k, q, t.places[q]);
                seats.add(st);
                seatsOf[k][q - 1] = st;
            }
        }
        Roster roster = new Roster(pb, jobs, seats);
        String firstPlan = "timefold construction heuristic";
        if (in.get("initial") != null) {
            warmStart(pb, jobOf, seatsOf, Json.arr(in.get("initial")));
            firstPlan = "initial";
        } else if (construct) {
            firstPlan = bestConstruction(pb, roster, jobOf, seatsOf);
        }
        long constructMs = System.currentTimeMillis() - clock;
        BendableLongScore firstScore = scoreOf(roster);
        SolverConfig cfg = config(seed, threads, construct || in.get("initial") != null, moves);
        SolverFactory<Roster> factory = SolverFactory.create(cfg);
        // the whole limit for the search, as the engine's leaves out compiling and its greedy:
        // reading the instance, the first plan and building the solver are not counted
        long budget = Math.max(200, limitMs);
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
        out.append(", \"setup_ms\": ").append(clock - jvmStart);
        out.append(", \"construct_ms\": ").append(constructMs);
        out.append(", \"first_plan\": ").append(Json.quote(firstPlan));
        out.append(", \"first_score\": ").append(Json.quote(String.valueOf(firstScore)));
        out.append(", \"moves\": ").append(Json.quote(moves));
        out.append(", \"budget_ms\": ").append(budget);
        out.append(", \"best_updates\": ").append(improvements[0]);
        out.append(", \"last_improvement_ms\": ").append(lastImprovementMs[0]);
        out.append(", \"assignments\": [");
        Seat[][] bestSeats = new Seat[pb.tasks.length][];
        for (Seat st : best.seats) {
            Seat[] row = bestSeats[st.job];
            if (row == null) {
                row = bestSeats[st.job] = new Seat[pb.tasks[st.job].places.length];
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
                Integer p = q == 0 ? j.person : bestSeats[j.index][q].person;
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

    /** Set every job and seat from {@code initial} ({@code [task, start, [people by place]]});
     * the tasks it does not list are unassigned. */
    static void warmStart(Problem pb, Job[] jobOf, Seat[][] seatsOf, List<Object> initial) {
        for (Object o : initial) {
            List<Object> row = Json.arr(o);
            int k = Json.integer(row.get(0));
            int[] who = Json.ints(row.get(2));
            jobOf[k].start = Json.integer(row.get(1));
            jobOf[k].person = who.length == 0 ? -1 : who[0];
            for (int q = 1; q < who.length; q++) {
                seatsOf[k][q - 1].person = who[q];
            }
        }
        for (Problem.TaskData t : pb.tasks) {
            if (jobOf[t.index].start == null) {
                unassign(t, jobOf[t.index], seatsOf[t.index]);
            }
        }
    }

    /** Unassigned, with distinct people per place where the places allow it. */
    static void unassign(Problem.TaskData t, Job j, Seat[] seats) {
        j.start = Job.UNASSIGNED;
        List<Integer> used = new ArrayList<>();
        for (int q = 0; q < t.places.length; q++) {
            int pick = t.places[q][0];
            for (int p : t.places[q]) {
                if (!used.contains(p)) {
                    pick = p;
                    break;
                }
            }
            used.add(pick);
            if (q == 0) {
                j.person = pick;
            } else {
                seats[q - 1].person = pick;
            }
        }
        if (t.places.length == 0) {
            j.person = -1;
        }
    }

    /** The better (by score) of the list schedules of {@link Construct}; which one it was. */
    static String bestConstruction(Problem pb, Roster roster, Job[] jobOf, Seat[][] seatsOf) {
        BendableLongScore best = null;
        int bestRule = -1;
        int[] rules = {Construct.RULE_EDF, Construct.RULE_VALUE, Construct.RULE_DOWNSTREAM};
        for (int rule : rules) {
            Construct.build(pb, jobOf, seatsOf, rule);
            BendableLongScore sc = scoreOf(roster);
            if (best == null || sc.compareTo(best) > 0) {
                best = sc;
                bestRule = rule;
            }
        }
        if (bestRule != rules[rules.length - 1]) {
            Construct.build(pb, jobOf, seatsOf, bestRule);
        }
        return new String[] {
            "list schedule, deadline order", "list schedule, priority order", "list schedule, downstream work order"
        }[bestRule];
    }

    static BendableLongScore scoreOf(Roster roster) {
        for (Job j : roster.jobs) {
            if (j.start == null) {
                return null;
            }
        }
        ScoreCalc calc = new ScoreCalc();
        calc.resetWorkingSolution(roster);
        return calc.calculateScore();
    }

    /**
     * The solver's phases. {@code initialized}: every variable already has a value (a warm start
     * or {@link Construct}), so only local search runs; else Timefold's construction heuristics
     * first (the seats, then the jobs, first fit). {@code moves}: {@code "expert"} (change and
     * swap moves of every variable, Ruin & Recreate of the starts, and {@link ShiftMoves}: a new
     * start that pushes the successors) or {@code "default"} (Timefold's default local search).
     */
    static SolverConfig config(long seed, int threads, boolean initialized, String moves) {
        List<PhaseConfig> phases = new ArrayList<>();
        if (!initialized) {
            ConstructionHeuristicForagerConfig firstFit = new ConstructionHeuristicForagerConfig()
                    .withPickEarlyType(
                            ConstructionHeuristicPickEarlyType.FIRST_FEASIBLE_SCORE_OR_NON_DETERIORATING_HARD);
            phases.add(new ConstructionHeuristicPhaseConfig()
                    .withEntityPlacerConfig(new QueuedEntityPlacerConfig()
                            .withEntitySelectorConfig(placer("seatSel", Seat.class))
                            .withMoveSelectorConfigs(change("seatSel", "person")))
                    .withForagerConfig(firstFit));
            phases.add(new ConstructionHeuristicPhaseConfig()
                    .withEntityPlacerConfig(new QueuedEntityPlacerConfig()
                            .withEntitySelectorConfig(placer("jobSel", Job.class))
                            .withMoveSelectorConfigs(new CartesianProductMoveSelectorConfig()
                                    .withMoveSelectors(change("jobSel", "start"), change("jobSel", "person"))))
                    .withForagerConfig(firstFit.copyConfig()));
        }
        LocalSearchPhaseConfig ls = new LocalSearchPhaseConfig();
        if ("expert".equals(moves)) {
            ls.withMoveSelectorConfig(new UnionMoveSelectorConfig().withMoveSelectors(
                    new ChangeMoveSelectorConfig()
                            .withEntitySelectorConfig(new EntitySelectorConfig(Job.class))
                            .withFixedProbabilityWeight(10.0),
                    new SwapMoveSelectorConfig()
                            .withEntitySelectorConfig(new EntitySelectorConfig(Job.class))
                            .withFixedProbabilityWeight(5.0),
                    new ChangeMoveSelectorConfig()
                            .withEntitySelectorConfig(new EntitySelectorConfig(Seat.class))
                            .withFixedProbabilityWeight(3.0),
                    new SwapMoveSelectorConfig()
                            .withEntitySelectorConfig(new EntitySelectorConfig(Seat.class))
                            .withFixedProbabilityWeight(2.0),
                    new RuinRecreateMoveSelectorConfig()
                            .withEntitySelectorConfig(new EntitySelectorConfig(Job.class))
                            .withVariableName("start")
                            .withMinimumRuinedCount(1)
                            .withMaximumRuinedCount(4)
                            .withFixedProbabilityWeight(0.2),
                    new MoveIteratorFactoryConfig().withMoveIteratorFactoryClass(ShiftMoves.class)
                            .withFixedProbabilityWeight(2.0),
                    new MoveIteratorFactoryConfig().withMoveIteratorFactoryClass(InsertMoves.class)
                            .withFixedProbabilityWeight(2.0)));
        }
        phases.add(ls);
        SolverConfig cfg = new SolverConfig()
                .withEnvironmentMode(EnvironmentMode.NO_ASSERT)
                .withRandomSeed(seed)
                .withSolutionClass(Roster.class)
                .withEntityClasses(Job.class, Seat.class)
                .withScoreDirectorFactory(new ScoreDirectorFactoryConfig()
                        .withIncrementalScoreCalculatorClass(ScoreCalc.class))
                .withPhases(phases.toArray(new PhaseConfig[0]));
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

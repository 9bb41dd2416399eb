package allocpeer;

import ai.timefold.solver.core.api.score.buildin.bendablelong.BendableLongScore;
import ai.timefold.solver.core.api.score.calculator.IncrementalScoreCalculator;
import java.util.ArrayList;
import java.util.List;

/**
 * Incremental score of a {@link Roster}: each change of a Job's or a Seat's variable retracts
 * that task's contribution and inserts it again (the only state kept per task is what it
 * booked).
 *
 * <p><b>A task's span.</b> With start {@code s} and people {@code P} (places in order), its
 * active days are the days from {@code s} on on which every member of {@code P} is available
 * (every day for a task needing nobody); {@code s} must be one, and the finish {@code f} is the
 * {@code dur}-th ({@code dur}: the person's duration for a one-person task, the fixed one
 * otherwise). This is the contract's "active days": a task stretches over absences.
 *
 * <p><b>Hard score</b> (validity; 0 means the plan passes the checker), the sum of
 * <ul>
 *   <li>capacity: over person-days, the percent by which the allocations of the active tasks
 *       exceed the person's capacity that day;
 *   <li>span: 100 x (dur + 1) for an assigned task whose start is not an active day, that has
 *       fewer than {@code dur} active days before the horizon ends, or finishes after its
 *       latest finish (horizon end or hard deadline); such a task books nothing and counts as
 *       unassigned in the soft levels;
 *   <li>team: 100 per pair of places holding the same person; 100 when a pinned person is not
 *       among the assignees;
 *   <li>precedence, per (pred, succ) with succ assigned: 100 when pred is not, else
 *       100 x (days by which pred's finish is not before succ's start).
 * </ul>
 *
 * <p><b>Soft levels</b> (the engine's portfolio objective, in its lexicographic order, all
 * negated): undelivered units (priority-weighted work of the unassigned tasks), priority x late
 * days, priority x (finish + 1), assignee cost units.
 */
public class ScoreCalc implements IncrementalScoreCalculator<Roster, BendableLongScore> {
    static final int UNIT = 100;

    private Problem pb;
    private Job[] jobs;
    private Seat[][] seatsOf;
    private int[][] load;

    private long capExcess;
    private long hardOther;
    private long edges;
    private long undelivered;
    private long late;
    private long finish;
    private long cost;

    // per task, what its last insert booked
    private boolean[] active;
    private int[] s;
    private int[] f;
    private int[][] people;
    private int[][] days;
    private long[] jobHard;
    private long[] jobSoft;

    @Override
    public void resetWorkingSolution(Roster roster) {
        pb = roster.problem;
        int n = pb.tasks.length;
        jobs = new Job[n];
        for (Job j : roster.jobs) {
            jobs[j.index] = j;
        }
        List<List<Seat>> tmp = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            tmp.add(new ArrayList<>());
        }
        for (Seat st : roster.seats) {
            tmp.get(st.job).add(st);
        }
        seatsOf = new Seat[n][];
        for (int k = 0; k < n; k++) {
            List<Seat> l = tmp.get(k);
            l.sort((a, b) -> Integer.compare(a.place, b.place));
            seatsOf[k] = l.toArray(new Seat[0]);
        }
        load = new int[pb.nPeople][pb.nDays];
        capExcess = hardOther = edges = undelivered = late = finish = cost = 0;
        active = new boolean[n];
        s = new int[n];
        f = new int[n];
        people = new int[n][];
        days = new int[n][];
        jobHard = new long[n];
        jobSoft = new long[n * 4];
        for (int k = 0; k < n; k++) {
            insert(k, false);
        }
        edges = 0;
        for (int k = 0; k < n; k++) {
            for (int u : pb.tasks[k].preds) {
                edges += edge(u, k);
            }
        }
    }

    private int jobOf(Object entity) {
        return entity instanceof Job ? ((Job) entity).index : ((Seat) entity).job;
    }

    @Override
    public void beforeEntityAdded(Object entity) {}

    @Override
    public void afterEntityAdded(Object entity) {
        int k = jobOf(entity);
        retract(k);
        insert(k, true);
    }

    @Override
    public void beforeVariableChanged(Object entity, String variableName) {
        retract(jobOf(entity));
    }

    @Override
    public void afterVariableChanged(Object entity, String variableName) {
        insert(jobOf(entity), true);
    }

    @Override
    public void beforeEntityRemoved(Object entity) {
        retract(jobOf(entity));
    }

    @Override
    public void afterEntityRemoved(Object entity) {
        insert(jobOf(entity), true);
    }

    @Override
    public BendableLongScore calculateScore() {
        return BendableLongScore.of(
                new long[] {-(capExcess + hardOther + edges)},
                new long[] {-undelivered, -late, -finish, -cost});
    }

    // -- precedence -------------------------------------------------------------------------
    private long edge(int u, int t) {
        if (!active[t]) {
            return 0;
        }
        if (!active[u]) {
            return UNIT;
        }
        return f[u] >= s[t] ? (long) UNIT * (f[u] - s[t] + 1) : 0;
    }

    private long incident(int k) {
        long sum = 0;
        Problem.TaskData t = pb.tasks[k];
        for (int u : t.preds) {
            sum += edge(u, k);
        }
        for (int w : t.succs) {
            sum += edge(k, w);
        }
        return sum;
    }

    // -- retract / insert ---------------------------------------------------------------------
    private void retract(int k) {
        edges -= incident(k);
        Problem.TaskData t = pb.tasks[k];
        if (active[k]) {
            for (int p : people[k]) {
                int[] row = load[p];
                int[] c = pb.cap[p];
                for (int d : days[k]) {
                    int before = Math.max(0, row[d] - c[d]);
                    row[d] -= t.alloc;
                    capExcess += Math.max(0, row[d] - c[d]) - before;
                }
            }
        }
        hardOther -= jobHard[k];
        undelivered -= jobSoft[4 * k];
        late -= jobSoft[4 * k + 1];
        finish -= jobSoft[4 * k + 2];
        cost -= jobSoft[4 * k + 3];
        active[k] = false;
        jobHard[k] = 0;
        jobSoft[4 * k] = jobSoft[4 * k + 1] = jobSoft[4 * k + 2] = jobSoft[4 * k + 3] = 0;
        edges += incident(k); // as unassigned
    }

    private void insert(int k, boolean withEdges) {
        if (withEdges) {
            edges -= incident(k); // the unassigned state retract left
        }
        Problem.TaskData t = pb.tasks[k];
        Job job = jobs[k];
        long hard = 0;
        int nPlaces = t.places.length;
        int[] who = new int[nPlaces];
        boolean complete = true;
        for (int q = 0; q < nPlaces; q++) {
            Integer p = q == 0 ? job.person : seatsOf[k][q - 1].person;
            if (p == null) {
                complete = false;
                who[q] = -1 - q; // distinct placeholder
            } else {
                who[q] = p;
            }
        }
        for (int a = 0; a < nPlaces; a++) {
            for (int b = a + 1; b < nPlaces; b++) {
                if (who[a] >= 0 && who[a] == who[b]) {
                    hard += UNIT;
                }
            }
        }
        boolean ok = false;
        if (job.start != null && job.start != Job.UNASSIGNED && complete) {
            int st = job.start;
            if (t.pinPerson >= 0 && nPlaces > 0) {
                boolean found = false;
                for (int p : who) {
                    found |= p == t.pinPerson;
                }
                if (!found) {
                    hard += UNIT;
                }
            }
            int dur = t.fixedDur >= 0 ? t.fixedDur : t.dur.get(who[0]);
            int[] act = span(who, st, dur);
            if (act == null || act[act.length - 1] > t.lft) {
                hard += (long) UNIT * (dur + 1);
            } else {
                ok = true;
                s[k] = st;
                f[k] = act.length == 0 ? st + dur - 1 : act[act.length - 1];
                people[k] = who;
                days[k] = act;
                for (int p : who) {
                    int[] row = load[p];
                    int[] c = pb.cap[p];
                    for (int d : act) {
                        int before = Math.max(0, row[d] - c[d]);
                        row[d] += t.alloc;
                        capExcess += Math.max(0, row[d] - c[d]) - before;
                    }
                }
                long lateDays = t.deadline == Integer.MIN_VALUE ? 0 : Math.max(0, f[k] - t.deadline);
                jobSoft[4 * k + 1] = t.prio * lateDays;
                jobSoft[4 * k + 2] = t.prio * (f[k] + 1);
                long c = 0;
                for (int p : who) {
                    c += t.cost.get(p);
                }
                jobSoft[4 * k + 3] = c;
            }
        }
        if (!ok) {
            jobSoft[4 * k] = t.units;
        }
        active[k] = ok;
        jobHard[k] = hard;
        hardOther += hard;
        undelivered += jobSoft[4 * k];
        late += jobSoft[4 * k + 1];
        finish += jobSoft[4 * k + 2];
        cost += jobSoft[4 * k + 3];
        if (withEdges) {
            edges += incident(k);
        }
    }

    /**
     * Active days of a task starting on {@code st} with people {@code who} and {@code dur} active
     * days, or null when {@code st} is not active or the horizon ends first. A task needing
     * nobody books no day: an empty array, its finish is {@code st + dur - 1} (checked here).
     */
    private int[] span(int[] who, int st, int dur) {
        return pb.span(who, st, dur);
    }
}

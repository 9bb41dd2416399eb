package allocpeer;

import java.util.Comparator;
import java.util.PriorityQueue;

/**
 * The first plan, built before Timefold's local search starts (entities that already have values
 * are skipped by any construction heuristic, so this replaces it): list scheduling in precedence
 * order, each task at the (start, people) that finishes earliest among those that fit the
 * capacity booked so far, day by day. Team places are chosen together with the start (so the
 * seats follow time: the members must be present and have room on the task's active days), the
 * least-booked eligible person first. A task that fits nowhere (or whose predecessor is left
 * out) is left unassigned.
 *
 * <p>Orders of the ready tasks, one schedule each ({@link Main} keeps the one with the best
 * score): {@code RULE_EDF} (deadline, then priority, then work), {@code RULE_VALUE} (priority,
 * then work, then deadline: the undelivered term weighs priority x work), {@code
 * RULE_DOWNSTREAM} (a task's work plus that of everything after it in precedence, largest first:
 * the work lost when it is not placed).
 */
final class Construct {
    static final int RULE_EDF = 0;
    static final int RULE_VALUE = 1;
    static final int RULE_DOWNSTREAM = 2;

    private final Problem pb;
    private final int[][] load;
    private final long[] booked;
    private final int[] fin;
    private final boolean[] placed;

    private Construct(Problem pb) {
        this.pb = pb;
        load = new int[pb.nPeople][pb.nDays];
        booked = new long[pb.nPeople];
        fin = new int[pb.tasks.length];
        placed = new boolean[pb.tasks.length];
    }

    /** Per task, its undelivered units plus those of its successors, transitively (per path). */
    static long[] downstream(Problem pb) {
        int n = pb.tasks.length;
        long[] value = new long[n];
        int[] left = new int[n];
        java.util.ArrayDeque<Integer> ready = new java.util.ArrayDeque<>();
        for (Problem.TaskData t : pb.tasks) {
            value[t.index] = t.units;
            left[t.index] = t.succs.length;
            if (t.succs.length == 0) {
                ready.add(t.index);
            }
        }
        while (!ready.isEmpty()) {
            int j = ready.poll();
            for (int i : pb.tasks[j].preds) {
                value[i] += value[j];
                if (--left[i] == 0) {
                    ready.add(i);
                }
            }
        }
        return value;
    }

    static Comparator<Problem.TaskData> order(Problem pb, int rule) {
        if (rule == RULE_DOWNSTREAM) {
            long[] value = downstream(pb);
            Comparator<Problem.TaskData> c = Comparator.comparingLong(t -> -value[t.index]);
            return c.thenComparing(order(pb, RULE_EDF));
        }
        return order(rule);
    }

    static Comparator<Problem.TaskData> order(int rule) {
        Comparator<Problem.TaskData> dl = Comparator.comparingInt(
                t -> t.deadline == Integer.MIN_VALUE ? Integer.MAX_VALUE : t.deadline);
        Comparator<Problem.TaskData> prio = Comparator.comparingLong(t -> -t.prio);
        Comparator<Problem.TaskData> work = Comparator.comparingLong(t -> -t.units);
        Comparator<Problem.TaskData> c =
                rule == RULE_EDF ? dl.thenComparing(prio).thenComparing(work) : prio.thenComparing(work).thenComparing(dl);
        return c.thenComparingInt(t -> t.index);
    }

    /** Fill every job's and seat's variables (indexed by task) with one list schedule. */
    static void build(Problem pb, Job[] jobOf, Seat[][] seatsOf, int rule) {
        new Construct(pb).run(jobOf, seatsOf, order(pb, rule));
    }

    private void run(Job[] jobOf, Seat[][] seatsOf, Comparator<Problem.TaskData> cmp) {
        int n = pb.tasks.length;
        int[] indeg = new int[n];
        PriorityQueue<Problem.TaskData> ready = new PriorityQueue<>(cmp);
        for (Problem.TaskData t : pb.tasks) {
            indeg[t.index] = t.preds.length;
            if (indeg[t.index] == 0) {
                ready.add(t);
            }
        }
        while (!ready.isEmpty()) {
            Problem.TaskData t = ready.poll();
            int[] who = place(t);
            Job j = jobOf[t.index];
            Seat[] seats = seatsOf[t.index];
            if (who == null) {
                j.start = Job.UNASSIGNED;
                int[] idle = distinct(t);
                j.person = t.places.length == 0 ? -1 : idle[0];
                for (int q = 1; q < t.places.length; q++) {
                    seats[q - 1].person = idle[q];
                }
            } else {
                j.start = who[0];
                j.person = t.places.length == 0 ? -1 : who[1];
                for (int q = 1; q < t.places.length; q++) {
                    seats[q - 1].person = who[q + 1];
                }
            }
            for (int w : t.succs) {
                if (--indeg[w] == 0) {
                    ready.add(pb.tasks[w]);
                }
            }
        }
    }

    /** Some distinct eligible people per place (the values of an unassigned task). */
    private int[] distinct(Problem.TaskData t) {
        int[] out = new int[Math.max(1, t.places.length)];
        for (int q = 0; q < t.places.length; q++) {
            int pick = t.places[q][0];
            for (int p : t.places[q]) {
                boolean used = false;
                for (int a = 0; a < q; a++) {
                    used |= out[a] == p;
                }
                if (!used) {
                    pick = p;
                    break;
                }
            }
            out[q] = pick;
        }
        return out;
    }

    /** {start, person of place 0, person of place 1, ...} booked, or null if it fits nowhere. */
    private int[] place(Problem.TaskData t) {
        int es = t.est;
        for (int u : t.preds) {
            if (!placed[u]) {
                return null;
            }
            es = Math.max(es, fin[u] + 1);
        }
        int last = t.lft;
        if (t.pinStart >= 0) {
            if (es > t.pinStart) {
                return null;
            }
            es = last = t.pinStart;
        }
        int[] best = null;
        int bestFinish = Integer.MAX_VALUE;
        int[] bestDays = null;
        if (t.places.length == 0) {
            int f = es + t.fixedDur - 1;
            if (es <= last && f <= t.lft && f < pb.nDays) {
                best = new int[] {es};
                bestFinish = f;
                bestDays = new int[0];
            }
        } else if (!t.isTeam()) {
            for (int p : t.places[0]) {
                if (t.pinPerson >= 0 && p != t.pinPerson) {
                    continue;
                }
                int dur = t.dur.get(p);
                int[] who = {p};
                for (int s = es; s <= last && s < pb.nDays; s++) {
                    int[] act = pb.span(who, s, dur);
                    if (act == null) {
                        if (!pb.avail[p][s]) {
                            continue;
                        }
                        break; // the horizon ends first: later starts cannot fit either
                    }
                    int f = act[act.length - 1];
                    if (f > t.lft || f >= bestFinish) {
                        break;
                    }
                    if (fits(who, act, t.alloc)) {
                        best = new int[] {s, p};
                        bestFinish = f;
                        bestDays = act;
                        break;
                    }
                }
            }
        } else {
            for (int s = es; s <= last && s < pb.nDays && best == null; s++) {
                int[] who = team(t, s);
                if (who != null) {
                    int[] act = pb.span(who, s, t.fixedDur);
                    best = new int[who.length + 1];
                    best[0] = s;
                    System.arraycopy(who, 0, best, 1, who.length);
                    bestFinish = act[act.length - 1];
                    bestDays = act;
                }
            }
        }
        if (best == null) {
            return null;
        }
        if (t.places.length > 0) {
            int[] who = java.util.Arrays.copyOfRange(best, 1, best.length);
            for (int p : who) {
                for (int d : bestDays) {
                    load[p][d] += t.alloc;
                }
                booked[p] += (long) t.alloc * bestDays.length;
            }
        }
        placed[t.index] = true;
        fin[t.index] = bestFinish;
        return best;
    }

    /** People for each place of team task {@code t} started on {@code s} (null if none fit). */
    private int[] team(Problem.TaskData t, int s) {
        int k = t.places.length;
        int[] who = new int[0];
        int pinPlace = -1;
        if (t.pinPerson >= 0) {
            for (int q = 0; q < k; q++) {
                for (int p : t.places[q]) {
                    if (p == t.pinPerson && (pinPlace < 0 || t.places[q].length < t.places[pinPlace].length)) {
                        pinPlace = q;
                    }
                }
            }
        }
        for (int q = 0; q < k; q++) {
            int pick = -1;
            long pickLoad = Long.MAX_VALUE;
            for (int p : t.places[q]) {
                if (!pb.avail[p][s] || (q == pinPlace && p != t.pinPerson) || booked[p] >= pickLoad) {
                    continue;
                }
                boolean used = false;
                for (int x : who) {
                    used |= x == p;
                }
                if (used) {
                    continue;
                }
                int[] trial = java.util.Arrays.copyOf(who, who.length + 1);
                trial[who.length] = p;
                int[] act = pb.span(trial, s, t.fixedDur);
                if (act == null || act[act.length - 1] > t.lft || !fits(trial, act, t.alloc)) {
                    continue;
                }
                pick = p;
                pickLoad = booked[p];
            }
            if (pick < 0) {
                return null;
            }
            who = java.util.Arrays.copyOf(who, who.length + 1);
            who[who.length - 1] = pick;
        }
        return who;
    }

    private boolean fits(int[] who, int[] days, int alloc) {
        for (int p : who) {
            int[] row = load[p];
            int[] cap = pb.cap[p];
            for (int d : days) {
                if (row[d] + alloc > cap[d]) {
                    return false;
                }
            }
        }
        return true;
    }
}

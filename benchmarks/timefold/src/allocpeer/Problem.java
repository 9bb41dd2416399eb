package allocpeer;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The problem facts, read from the instance JSON written by {@code benchmarks/timefold_peer.py}.
 *
 * <p>Days are working-day indices {@code 0..nDays-1}. Per person: availability and capacity
 * (percent) per day, and the sorted list of available days with each day's rank among them, so
 * the span of a one-person task is found in O(1): the {@code dur} available days from the start.
 */
final class Problem {
    final int nDays;
    final int nPeople;
    final boolean[][] avail;
    final int[][] cap;
    /** availDays[p]: p's available days, ascending. */
    final int[][] availDays;
    /** rank[p][d]: number of available days of p before day d. */
    final int[][] rank;
    final TaskData[] tasks;

    Problem(Map<String, Object> in) {
        nDays = Json.integer(in.get("n_days"));
        List<Object> people = Json.arr(in.get("people"));
        nPeople = people.size();
        avail = new boolean[nPeople][nDays];
        cap = new int[nPeople][];
        availDays = new int[nPeople][];
        rank = new int[nPeople][nDays + 1];
        for (int p = 0; p < nPeople; p++) {
            Map<String, Object> o = Json.obj(people.get(p));
            String a = (String) o.get("avail");
            cap[p] = Json.ints(o.get("cap"));
            int n = 0;
            for (int d = 0; d < nDays; d++) {
                rank[p][d] = n;
                avail[p][d] = a.charAt(d) == '1';
                if (avail[p][d]) {
                    n++;
                }
            }
            rank[p][nDays] = n;
            availDays[p] = new int[n];
            n = 0;
            for (int d = 0; d < nDays; d++) {
                if (avail[p][d]) {
                    availDays[p][n++] = d;
                }
            }
        }
        List<Object> ts = Json.arr(in.get("tasks"));
        tasks = new TaskData[ts.size()];
        for (int k = 0; k < tasks.length; k++) {
            tasks[k] = new TaskData(k, Json.obj(ts.get(k)));
        }
        for (TaskData t : tasks) {
            for (int u : t.preds) {
                int[] old = tasks[u].succs;
                int[] grown = java.util.Arrays.copyOf(old, old.length + 1);
                grown[old.length] = t.index;
                tasks[u].succs = grown;
            }
        }
    }

    /**
     * Active days of a task starting on {@code st} with people {@code who} and {@code dur} active
     * days, or null when {@code st} is not active or the horizon ends first. A task needing
     * nobody books no day: a one-element array holding its finish {@code st + dur - 1}.
     */
    int[] span(int[] who, int st, int dur) {
        if (st < 0 || st >= nDays) {
            return null;
        }
        if (who.length == 0) {
            return st + dur - 1 < nDays ? new int[] {st + dur - 1} : null;
        }
        if (who.length == 1) {
            int p = who[0];
            if (!avail[p][st]) {
                return null;
            }
            int r = rank[p][st];
            if (r + dur > availDays[p].length) {
                return null;
            }
            return java.util.Arrays.copyOfRange(availDays[p], r, r + dur);
        }
        int[] out = new int[dur];
        int n = 0;
        for (int d = st; d < nDays && n < dur; d++) {
            boolean all = true;
            for (int p : who) {
                if (!avail[p][d]) {
                    all = false;
                    break;
                }
            }
            if (all) {
                out[n++] = d;
            } else if (d == st) {
                return null;
            }
        }
        return n == dur ? out : null;
    }

    /** One task of the instance (only tasks that can be assigned at all are exported). */
    static final class TaskData {
        final int index;
        final String id;
        final int alloc;
        final long prio;
        /** What leaving it unassigned costs (the objective's undelivered units). */
        final long units;
        final int est;
        /** Last day it may finish on: the horizon end or its hard deadline. */
        final int lft;
        /** idx(D') of its deadline; Integer.MIN_VALUE when it has none. */
        final int deadline;
        /** Fixed duration (team tasks and tasks needing nobody); -1 for one-person tasks. */
        final int fixedDur;
        final int pinPerson;
        final int pinStart;
        final int[] preds;
        int[] succs = new int[0];
        /** Per place, the eligible people (place 0 is the Job's own variable). */
        final int[][] places;
        final Map<Integer, Integer> dur = new HashMap<>();
        final Map<Integer, Long> cost = new HashMap<>();

        TaskData(int index, Map<String, Object> o) {
            this.index = index;
            id = (String) o.get("id");
            alloc = Json.integer(o.get("alloc"));
            prio = Json.lng(o.get("prio"));
            units = Json.lng(o.get("units"));
            est = Json.integer(o.get("est"));
            lft = Json.integer(o.get("lft"));
            Object dl = o.get("deadline");
            deadline = dl == null ? Integer.MIN_VALUE : Json.integer(dl);
            fixedDur = Json.integer(o.get("dur"));
            Object pp = o.get("pin_person");
            pinPerson = pp == null ? -1 : Json.integer(pp);
            Object ps = o.get("pin_start");
            pinStart = ps == null ? -1 : Json.integer(ps);
            preds = Json.ints(o.get("preds"));
            List<Object> pl = Json.arr(o.get("places"));
            places = new int[pl.size()][];
            for (int k = 0; k < places.length; k++) {
                places[k] = Json.ints(pl.get(k));
            }
            // candidates: [person, duration, cost]
            for (Object c : Json.arr(o.get("cands"))) {
                List<Object> x = Json.arr(c);
                int p = Json.integer(x.get(0));
                dur.put(p, Json.integer(x.get(1)));
                cost.put(p, Json.lng(x.get(2)));
            }
        }

        boolean isTeam() {
            return places.length > 1 || (places.length == 1 && fixedDur >= 0);
        }
    }
}

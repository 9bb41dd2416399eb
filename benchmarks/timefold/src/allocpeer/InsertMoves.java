package allocpeer;

import ai.timefold.solver.core.api.score.director.ScoreDirector;
import ai.timefold.solver.core.impl.heuristic.selector.move.factory.MoveIteratorFactory;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Eject-and-insert moves for the first objective term: an unassigned one-person job gets a
 * person and a start (at the earliest its assigned predecessors allow, or a random day of its
 * window), and every assigned job whose span on that person overlaps the new span is left
 * unassigned, with its assigned successors (transitively), so the move is feasible but for
 * capacity on other days. The score decides whether the inserted work outweighs the ejected
 * (single variable changes cannot: inserting into a full person is a hard penalty).
 */
public final class InsertMoves implements MoveIteratorFactory<Roster, ShiftMoves.Shift> {
    @Override
    public long getSize(ScoreDirector<Roster> sd) {
        return (long) sd.getWorkingSolution().jobs.size() * 8;
    }

    @Override
    public Iterator<ShiftMoves.Shift> createOriginalMoveIterator(ScoreDirector<Roster> sd) {
        throw new UnsupportedOperationException("random selection only");
    }

    @Override
    public Iterator<ShiftMoves.Shift> createRandomMoveIterator(ScoreDirector<Roster> sd, Random random) {
        Roster r = sd.getWorkingSolution();
        Problem pb = r.problem;
        Job[] jobOf = new Job[pb.tasks.length];
        for (Job j : r.jobs) {
            jobOf[j.index] = j;
        }
        List<Job> solo = new ArrayList<>();
        for (Job j : r.jobs) {
            if (!j.task.isTeam() && j.task.places.length == 1 && j.task.pinStart < 0) {
                solo.add(j);
            }
        }
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return !solo.isEmpty();
            }

            @Override
            public ShiftMoves.Shift next() {
                for (int tries = 0; tries < 30; tries++) {
                    Job j = solo.get(random.nextInt(solo.size()));
                    if (j.start != null && j.start != Job.UNASSIGNED) {
                        continue;
                    }
                    ShiftMoves.Shift m = propose(j);
                    if (m != null) {
                        return m;
                    }
                }
                Job j = solo.get(random.nextInt(solo.size()));
                return new ShiftMoves.Shift(new Job[] {j}, new int[] {j.start == null ? Job.UNASSIGNED : j.start},
                        new int[] {j.person == null ? -1 : j.person});
            }

            private ShiftMoves.Shift propose(Job j) {
                Problem.TaskData t = j.task;
                int es = t.est;
                for (int u : t.preds) {
                    Job ju = jobOf[u];
                    if (ju.start == null || ju.start == Job.UNASSIGNED) {
                        return null;
                    }
                    int fu = finishAny(ju);
                    if (fu < 0) {
                        return null;
                    }
                    es = Math.max(es, fu + 1);
                }
                if (es > t.lft) {
                    return null;
                }
                int[] cands = t.places[0];
                int p = t.pinPerson >= 0 ? t.pinPerson : cands[random.nextInt(cands.length)];
                int dur = t.dur.get(p);
                int s = random.nextBoolean() ? es : es + random.nextInt(t.lft - es + 1);
                while (s <= t.lft && !pb.avail[p][s]) {
                    s++;
                }
                if (s > t.lft) {
                    return null;
                }
                int[] act = pb.span(new int[] {p}, s, dur);
                if (act == null || act[act.length - 1] > t.lft) {
                    return null;
                }
                int a = act[0];
                int b = act[act.length - 1];
                Map<Job, int[]> change = new LinkedHashMap<>();
                change.put(j, new int[] {s, p});
                ArrayDeque<Job> eject = new ArrayDeque<>();
                for (Job o : r.jobs) {
                    if (o == j || o.start == null || o.start == Job.UNASSIGNED || o.task.pinStart >= 0) {
                        continue;
                    }
                    if (!uses(o, p)) {
                        continue;
                    }
                    int fo = finishAny(o);
                    if (fo >= a && o.start <= b) {
                        eject.add(o);
                    }
                }
                if (eject.size() > 6) {
                    return null;
                }
                while (!eject.isEmpty()) {
                    Job o = eject.poll();
                    if (change.containsKey(o)) {
                        continue;
                    }
                    change.put(o, new int[] {Job.UNASSIGNED, o.person == null ? -1 : o.person});
                    for (int w : o.task.succs) {
                        Job jw = jobOf[w];
                        if (jw.start != null && jw.start != Job.UNASSIGNED && !change.containsKey(jw)) {
                            eject.add(jw);
                        }
                    }
                }
                Job[] js = new Job[change.size()];
                int[] ss = new int[js.length];
                int[] ps = new int[js.length];
                int k = 0;
                for (Map.Entry<Job, int[]> e : change.entrySet()) {
                    js[k] = e.getKey();
                    ss[k] = e.getValue()[0];
                    ps[k] = e.getValue()[1];
                    k++;
                }
                return new ShiftMoves.Shift(js, ss, ps);
            }

            private boolean uses(Job o, int p) {
                if (o.person != null && o.person == p) {
                    return true;
                }
                for (Seat st : seatsOf(o)) {
                    if (st.person != null && st.person == p) {
                        return true;
                    }
                }
                return false;
            }

            private Seat[] seatsOf(Job o) {
                if (seats == null) {
                    seats = new Seat[pb.tasks.length][];
                    for (Seat st : r.seats) {
                        if (seats[st.job] == null) {
                            seats[st.job] = new Seat[pb.tasks[st.job].places.length - 1];
                        }
                        seats[st.job][st.place - 1] = st;
                    }
                }
                Seat[] out = seats[o.index];
                return out == null ? new Seat[0] : out;
            }

            private Seat[][] seats;

            /** A job's finish with its current people (-1 if its span does not fit). */
            private int finishAny(Job o) {
                Problem.TaskData t = o.task;
                Seat[] ss = seatsOf(o);
                int[] who = new int[t.places.length];
                for (int q = 0; q < who.length; q++) {
                    Integer v = q == 0 ? o.person : ss[q - 1].person;
                    if (v == null) {
                        return -1;
                    }
                    who[q] = v;
                }
                int dur = t.fixedDur >= 0 ? t.fixedDur : t.dur.get(who[0]);
                int[] act = pb.span(who, o.start, dur);
                return act == null ? -1 : act[act.length - 1];
            }
        };
    }
}

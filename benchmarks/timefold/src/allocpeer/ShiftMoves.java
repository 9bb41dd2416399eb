package allocpeer;

import ai.timefold.solver.core.api.score.director.ScoreDirector;
import ai.timefold.solver.core.impl.heuristic.move.AbstractMove;
import ai.timefold.solver.core.impl.heuristic.selector.move.factory.MoveIteratorFactory;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Random;

/**
 * Moves that keep precedence chains movable although starts are absolute: a job gets a new start
 * (a few days either way, or anywhere in its window), and each assigned successor that would now
 * start on or before a predecessor's finish is pushed to the first day that fits after it, and
 * so on down the chain (Timefold's project-job-scheduling example gets the same effect by
 * deriving starts from predecessors with shadow variables). The score judges the result as any
 * other move (a push past a hard deadline is a hard penalty).
 */
public final class ShiftMoves implements MoveIteratorFactory<Roster, ShiftMoves.Shift> {
    /** The most successors one move pushes. */
    static final int MAX_CHAIN = 64;

    /** New starts (and, when {@code persons} is given, new place-0 people) for some jobs. */
    public static final class Shift extends AbstractMove<Roster> {
        final Job[] jobs;
        final int[] starts;
        final int[] persons;

        Shift(Job[] jobs, int[] starts) {
            this(jobs, starts, null);
        }

        Shift(Job[] jobs, int[] starts, int[] persons) {
            this.jobs = jobs;
            this.starts = starts;
            this.persons = persons;
        }

        @Override
        public boolean isMoveDoable(ScoreDirector<Roster> sd) {
            for (int k = 0; k < jobs.length; k++) {
                if (jobs[k].start == null || jobs[k].start != starts[k]) {
                    return true;
                }
                if (persons != null && (jobs[k].person == null || jobs[k].person != persons[k])) {
                    return true;
                }
            }
            return false;
        }

        @Override
        protected void doMoveOnGenuineVariables(ScoreDirector<Roster> sd) {
            for (int k = 0; k < jobs.length; k++) {
                sd.beforeVariableChanged(jobs[k], "start");
                jobs[k].start = starts[k];
                sd.afterVariableChanged(jobs[k], "start");
                if (persons != null) {
                    sd.beforeVariableChanged(jobs[k], "person");
                    jobs[k].person = persons[k];
                    sd.afterVariableChanged(jobs[k], "person");
                }
            }
        }

        @Override
        public Shift rebase(ScoreDirector<Roster> sd) {
            Job[] out = new Job[jobs.length];
            for (int k = 0; k < jobs.length; k++) {
                out[k] = sd.lookUpWorkingObject(jobs[k]);
            }
            return new Shift(out, starts.clone(), persons == null ? null : persons.clone());
        }

        @Override
        public Collection<?> getPlanningEntities() {
            return List.of(jobs);
        }

        @Override
        public Collection<?> getPlanningValues() {
            List<Integer> out = new ArrayList<>();
            for (int s : starts) {
                out.add(s);
            }
            return out;
        }

        @Override
        public String toString() {
            return "Shift(" + jobs.length + ")";
        }
    }

    @Override
    public long getSize(ScoreDirector<Roster> sd) {
        return (long) sd.getWorkingSolution().jobs.size() * 16;
    }

    @Override
    public Iterator<Shift> createOriginalMoveIterator(ScoreDirector<Roster> sd) {
        throw new UnsupportedOperationException("random selection only");
    }

    @Override
    public Iterator<Shift> createRandomMoveIterator(ScoreDirector<Roster> sd, Random random) {
        Roster r = sd.getWorkingSolution();
        Problem pb = r.problem;
        Job[] jobOf = new Job[pb.tasks.length];
        for (Job j : r.jobs) {
            jobOf[j.index] = j;
        }
        Seat[][] seatsOf = new Seat[pb.tasks.length][];
        for (Seat st : r.seats) {
            if (seatsOf[st.job] == null) {
                seatsOf[st.job] = new Seat[pb.tasks[st.job].places.length - 1];
            }
            seatsOf[st.job][st.place - 1] = st;
        }
        List<Job> movable = new ArrayList<>();
        for (Job j : r.jobs) {
            if (j.task.pinStart < 0) {
                movable.add(j);
            }
        }
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return !movable.isEmpty();
            }

            @Override
            public Shift next() {
                for (int tries = 0; tries < 20; tries++) {
                    Shift m = propose(movable.get(random.nextInt(movable.size())));
                    if (m != null) {
                        return m;
                    }
                }
                Job j = movable.get(random.nextInt(movable.size()));
                return new Shift(new Job[] {j}, new int[] {j.start == null ? Job.UNASSIGNED : j.start});
            }

            private int[] who(Job j) {
                Problem.TaskData t = j.task;
                int[] out = new int[t.places.length];
                for (int q = 0; q < out.length; q++) {
                    Integer p = q == 0 ? j.person : seatsOf[j.index][q - 1].person;
                    if (p == null) {
                        return null;
                    }
                    out[q] = p;
                }
                return out;
            }

            private int dur(Job j, int[] who) {
                return j.task.fixedDur >= 0 ? j.task.fixedDur : j.task.dur.get(who[0]);
            }

            /** First start from {@code s} on that is an active day of the people; -1 if none. */
            private int firstActive(Job j, int[] who, int s, int dur) {
                for (int d = Math.max(s, j.task.est); d <= j.task.lft; d++) {
                    if (pb.span(who, d, dur) != null) {
                        return d;
                    }
                }
                return -1;
            }

            private Shift propose(Job j) {
                if (j.start == null || j.start == Job.UNASSIGNED) {
                    return null;
                }
                int[] who = who(j);
                if (who == null) {
                    return null;
                }
                int dur = dur(j, who);
                Problem.TaskData t = j.task;
                int target;
                if (random.nextBoolean()) {
                    int delta = 1 + random.nextInt(10);
                    target = j.start + (random.nextBoolean() ? delta : -delta);
                } else {
                    target = t.est + random.nextInt(t.lft - t.est + 1);
                }
                int s = firstActive(j, who, target, dur);
                if (s < 0 || s == j.start) {
                    return null;
                }
                List<Job> moved = new ArrayList<>();
                List<Integer> starts = new ArrayList<>();
                java.util.Map<Integer, Integer> newFinish = new java.util.HashMap<>();
                moved.add(j);
                starts.add(s);
                int[] act = pb.span(who, s, dur);
                newFinish.put(j.index, act[act.length - 1]);
                ArrayDeque<Job> queue = new ArrayDeque<>();
                queue.add(j);
                while (!queue.isEmpty() && moved.size() < MAX_CHAIN) {
                    Job u = queue.poll();
                    int fu = newFinish.get(u.index);
                    for (int w : u.task.succs) {
                        Job jw = jobOf[w];
                        if (jw.start == null || jw.start == Job.UNASSIGNED || jw.task.pinStart >= 0) {
                            continue;
                        }
                        int cur = newFinish.containsKey(w) ? starts.get(moved.indexOf(jw)) : jw.start;
                        if (cur > fu) {
                            continue;
                        }
                        int[] ww = who(jw);
                        if (ww == null) {
                            continue;
                        }
                        int dw = dur(jw, ww);
                        int sw = firstActive(jw, ww, fu + 1, dw);
                        if (sw < 0) {
                            continue; // cannot follow: the score will say so
                        }
                        int[] aw = pb.span(ww, sw, dw);
                        if (newFinish.containsKey(w)) {
                            starts.set(moved.indexOf(jw), sw);
                        } else {
                            moved.add(jw);
                            starts.add(sw);
                        }
                        newFinish.put(w, aw[aw.length - 1]);
                        queue.add(jw);
                    }
                }
                int[] out = new int[starts.size()];
                for (int k = 0; k < out.length; k++) {
                    out[k] = starts.get(k);
                }
                return new Shift(moved.toArray(new Job[0]), out);
            }
        };
    }
}

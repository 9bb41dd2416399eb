package allocpeer;

import ai.timefold.solver.core.api.domain.entity.PlanningEntity;
import ai.timefold.solver.core.api.domain.valuerange.ValueRangeProvider;
import ai.timefold.solver.core.api.domain.variable.PlanningVariable;
import java.util.ArrayList;
import java.util.List;

/**
 * A task to plan. Planning variables: {@code start} (a working-day index of the task's window
 * {@code est..lft}, or its pinned start, then {@link #UNASSIGNED} last, the dedicated value of
 * an unassigned task) and {@code person} (the person in place 0, among its eligible people; -1
 * for a task needing nobody). The other places of a team task are {@link Seat}s. (The value
 * comes last so that a first-fit construction heuristic takes it only when no day fits; an
 * uninitialized {@code null} also reads as unassigned.)
 */
@PlanningEntity
public class Job {
    public int index;
    public Problem.TaskData task;

    public static final int UNASSIGNED = -1;

    @PlanningVariable(valueRangeProviderRefs = "startRange")
    public Integer start;

    private List<Integer> starts;
    private List<Integer> persons;

    @PlanningVariable(valueRangeProviderRefs = "personRange")
    public Integer person;

    public Job() {}

    Job(Problem.TaskData task) {
        this.index = task.index;
        this.task = task;
    }

    @ValueRangeProvider(id = "startRange")
    public List<Integer> getStartRange() {
        if (starts == null) {
            List<Integer> out = new ArrayList<>();
            if (task.pinStart >= 0) {
                out.add(task.pinStart);
            } else {
                for (int d = task.est; d <= task.lft; d++) {
                    out.add(d);
                }
            }
            out.add(UNASSIGNED);
            starts = out;
        }
        return starts;
    }

    @ValueRangeProvider(id = "personRange")
    public List<Integer> getPersonRange() {
        if (persons == null) {
            List<Integer> out = new ArrayList<>();
            if (task.places.length == 0) {
                out.add(-1);
            } else {
                for (int p : task.places[0]) {
                    out.add(p);
                }
            }
            persons = out;
        }
        return persons;
    }
}

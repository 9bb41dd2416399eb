package allocpeer;

import ai.timefold.solver.core.api.domain.entity.PlanningEntity;
import ai.timefold.solver.core.api.domain.valuerange.ValueRangeProvider;
import ai.timefold.solver.core.api.domain.variable.PlanningVariable;
import java.util.ArrayList;
import java.util.List;

/** Place {@code place >= 1} of a team task: planning variable {@code person}, among its eligible people. */
@PlanningEntity
public class Seat {
    public int job;
    public int place;
    public int[] candidates;

    @PlanningVariable(valueRangeProviderRefs = "seatRange")
    public Integer person;

    private List<Integer> persons;

    public Seat() {}

    Seat(int job, int place, int[] candidates) {
        this.job = job;
        this.place = place;
        this.candidates = candidates;
    }

    @ValueRangeProvider(id = "seatRange")
    public List<Integer> getSeatRange() {
        if (persons == null) {
            List<Integer> out = new ArrayList<>();
            for (int p : candidates) {
                out.add(p);
            }
            persons = out;
        }
        return persons;
    }
}

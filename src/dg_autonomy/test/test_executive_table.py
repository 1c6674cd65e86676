"""The mission executive's transition table: complete, the only way its state changes, drawn."""

from pathlib import Path

import pytest
from test_executive import FakeNavigator, fs, make

from dg_autonomy.failsafe.monitor import FailsafeState, Fault
from dg_autonomy.mission.executive import (
    TABLE,
    TRANSITIONS,
    ExecEvent,
    ExecState,
    MissionExecutive,
    MissionState,
    transition_table_markdown,
)

TERMINAL = {ExecState.DONE, ExecState.FAILED}


def test_every_state_is_reachable_and_only_terminal_states_have_no_rows():
    reached, frontier = {ExecState.IDLE}, [ExecState.IDLE]
    while frontier:
        here = frontier.pop()
        for t in TRANSITIONS:
            if t.state is here and t.next not in reached:
                reached.add(t.next)
                frontier.append(t.next)
    assert reached == set(ExecState)
    without_rows = {s for s in ExecState if not TABLE.events_of(s)}
    assert without_rows == TERMINAL
    # Every state the boat moves in answers every fail-safe request.
    for state in set(ExecState) - TERMINAL - {ExecState.IDLE}:
        assert {ExecEvent.HOLD, ExecEvent.LOITER} <= TABLE.events_of(state), state


def test_a_row_drawn_without_guard_is_the_last_of_its_state_and_event():
    # Rows of one (state, event) are tried in order: a row after one that always holds
    # could never be taken.
    by_pair: dict = {}
    for t in TRANSITIONS:
        by_pair.setdefault((t.state, t.event), []).append(t)
    for pair, rows in by_pair.items():
        unguarded = [i for i, t in enumerate(rows) if not t.when]
        assert all(i == len(rows) - 1 for i in unguarded), (pair, [t.when for t in rows])


@pytest.fixture
def recorded(monkeypatch):
    """(state before, event, state after) of every event the executive handles."""
    log = []
    handle = MissionExecutive._handle

    def spy(self, event):
        before = self.state
        handle(self, event)
        log.append((before, event, self.state))

    monkeypatch.setattr(MissionExecutive, "_handle", spy)
    return log


def test_state_changes_only_through_rows_of_the_table(recorded):
    ex = make(brake_timeout_s=3.0)
    nav = FakeNavigator(ex)
    nav.run(lambda o: o.status.detail == "SURVEY lane 2/3")
    nav.pose, nav.finished = (100.0, 41.0), None
    faults = [fs("hold", Fault.GNSS), FailsafeState(), fs("loiter", Fault.OPERATOR_LINK),
              FailsafeState(), fs("hold", Fault.GNSS), fs("return_home", Fault.BATTERY),
              FailsafeState(), FailsafeState()]
    for f in faults:
        nav.step(failsafe=f, execute=False, speed=(2.0, 0.0))
    assert ex.state is ExecState.FAILSAFE_RETURN
    nav.pose, nav.finished = (20.0, 8.0), ex.command.plan_id   # the return arrives home
    nav.step(failsafe=FailsafeState())
    assert ex.state is ExecState.ABORTED
    rows = {(t.state, t.event, t.next) for t in TRANSITIONS}
    changes = [r for r in recorded if r[0] is not r[2]]
    assert len(changes) >= 8
    for before, event, after in recorded:
        assert before is after or (before, event, after) in rows, (before, event, after)
    # The full mission passes through its states in order.
    recorded.clear()
    nav = FakeNavigator(make())

    def feed(out):
        if ex2.state is ExecState.SAMPLE_DWELL:
            ex2.add_reading(nav.t, *nav.pose, 20.0, 8.0, 3.0)
        return out.status.state is MissionState.SUCCEEDED

    ex2 = nav.ex
    nav.run(feed)
    visited = [after for before, _, after in recorded if before is not after]
    sample = [ExecState.TRANSIT, ExecState.SAMPLE_ACQUIRE, ExecState.SAMPLE_DWELL]
    assert visited == [ExecState.TRANSIT, ExecState.SURVEY, *sample, *sample,
                       ExecState.RETURN_HOME, ExecState.DONE]


def test_package_readme_shows_the_table():
    diagram = transition_table_markdown()
    assert diagram.startswith("stateDiagram-v2") and "mission --> failsafe_hold: hold" in diagram
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert diagram in readme, (
        "src/dg_autonomy/README.md: paste dg_autonomy.mission.executive."
        "transition_table_markdown()'s output")

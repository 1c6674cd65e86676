"""Survey mission executive (pure): leave home, survey lanes, sample, return home.

The mission is a fixed sequence of *tasks*: the coverage lanes (in the order of the
boustrophedon path), the water-quality samples (nearest-neighbour order from the end of the
survey, computed from the mission alone so that it is the same after a restart), and the
return home. Progress is the number of completed tasks; it is persisted (atomic JSON, see
:mod:`dg_autonomy.mission.progress_store`) after every task, so a restarted executive resumes
at the first task not completed instead of starting over.

Each task may start with a TRANSIT (global grid planner from the current position to the
task's start, skipped within ``arrive_radius_m``). Lane ``k`` follows the part of the coverage
path from the end of lane ``k-1`` to the end of lane ``k`` (the turn is part of the coverage
path; lane 0 starts at home with the coverage plan's own way in). When the boat is farther
than ``arrive_radius_m`` from that start (after a restart, say) it transits to the lane
itself and surveys just the lane. A sample station-keeps at its point; once the navigator
reports the station acquired the dwell time runs and the water-quality readings received
meanwhile are averaged into one record. The return follows a planned path home and then
holds station there (ArduPilot's ``MIS_DONE_BEHAVE`` = Hold).

Fail-safes (from :class:`dg_autonomy.failsafe.monitor.FailsafeMonitor`) override the plan:

* ``hold``: station keeping where the boat is; ``loiter``: circling there (the centre moved
  inside the geofence by radius + margin); both resume the interrupted task (from the nearest
  point of the lane) once every fault has cleared - except after a geofence breach, which
  latches them (ArduPilot stays in the fence action's mode until the operator takes over;
  resuming would steer back toward the fence). Restart the node to continue (progress kept).
* ``return_home``: latched, as ArduPilot's RTL stays engaged after the fault clears; the
  mission ends ABORTED at home (MissionProgress FAILED) with its progress kept, so a restart
  (battery changed, link back) resumes it. A ``hold``/``loiter`` fault of higher priority
  (e.g. GNSS) pauses the return meanwhile.
* A geofence-triggered ``return_home``/``loiter`` first brakes (station keeping on the spot)
  until the speed is below ``brake_speed_mps``: turning at speed could carry the boat over
  the fence; the monitor's predictive margin is the straight-line stopping distance.

All of this is one explicit state machine: the states are :class:`ExecState`, the events
:class:`ExecEvent`, and the behaviour is the transition table :data:`TRANSITIONS` (drawn in
the package README); the methods of :class:`MissionExecutive` are its guards and effects.

Every command gets a new, increasing ``plan_id`` (persisted, so ids never repeat across
restarts and a stale ``finished`` status of an earlier run cannot complete a new task).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, Protocol

from shapely.geometry import LineString, Point
from shapely.ops import nearest_points

from dg_autonomy.failsafe.monitor import FailsafeAction, FailsafeState, Fault
from dg_autonomy.mission.mission_file import Mission, SamplePoint
from dg_autonomy.mission.progress_store import ProgressStore
from dg_common.state_machine import Transition, TransitionTable

XY = tuple[float, float]
PROGRESS_VERSION = 1


class NavMode(IntEnum):
    """Navigator modes (values of ``dg_interfaces/GuidanceCommand.MODE_*``)."""

    IDLE = 0
    FOLLOW_PATH = 1
    STATION_KEEP = 2
    LOITER = 3


class MissionState(IntEnum):
    """Mission states (values of ``dg_interfaces/MissionProgress.STATE_*``)."""

    IDLE = 0
    RUNNING = 1
    HOLDING = 2
    SUCCEEDED = 3
    FAILED = 4


class Phase(StrEnum):
    """What the executive is doing (first word of the progress detail)."""

    IDLE = "IDLE"
    TRANSIT = "TRANSIT"
    SURVEY = "SURVEY"
    SAMPLE = "SAMPLE"
    RETURN_HOME = "RETURN_HOME"
    DONE = "DONE"
    FAILSAFE_HOLD = "FAILSAFE_HOLD"
    FAILSAFE_LOITER = "FAILSAFE_LOITER"
    FAILSAFE_BRAKE = "FAILSAFE_BRAKE"
    FAILSAFE_RETURN = "FAILSAFE_RETURN"
    ABORTED = "ABORTED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class NavCommand:
    """A navigator command in the map frame (fields of ``GuidanceCommand``)."""

    plan_id: int
    mode: NavMode
    path_xy: tuple[XY, ...] = ()
    speed_mps: float = 0.0
    station_xy: XY = (0.0, 0.0)
    heading_rad: float = 0.0
    heading_into_weather: bool = True
    loiter_radius_m: float = 0.0
    collision_avoidance: bool = False


@dataclass(frozen=True)
class NavFeedback:
    """The navigator's report for a plan (``NavigatorStatus``)."""

    plan_id: int
    finished: bool


@dataclass(frozen=True)
class SampleRecord:
    """A recorded water-quality sample (mean of the readings during the dwell)."""

    sample_id: str
    x_m: float
    y_m: float
    t_s: float
    temperature_c: float | None
    dissolved_oxygen_mgl: float | None
    turbidity_ntu: float | None
    n_readings: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class ExecutiveStatus:
    """Progress as published on ``/mission_progress``."""

    state: MissionState
    phase: Phase
    detail: str
    completed: int
    total: int


@dataclass
class StepOutput:
    """Result of :meth:`MissionExecutive.update`."""

    command: NavCommand | None
    command_changed: bool
    status: ExecutiveStatus
    samples: list[SampleRecord] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ExecutiveConfig:
    """Executive tuning (node parameters)."""

    arrive_radius_m: float = 5.0          # skip a transit when this close to a task start
    loiter_radius_m: float = 10.0         # fail-safe loiter circle [m]
    brake_speed_mps: float = 0.3          # geofence: brake until slower than this [m/s]
    brake_timeout_s: float = 15.0         # ... or for at most this long [s]
    sample_grace_s: float = 10.0          # wait this long past the dwell for a first reading
    collision_avoidance: bool = True      # COLREGs while following paths
    heading_into_weather: bool = True     # station keeping heading

    def __post_init__(self) -> None:
        """Validate (all finite and positive)."""
        for name in ("arrive_radius_m", "loiter_radius_m", "brake_speed_mps",
                     "brake_timeout_s", "sample_grace_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0.0):
                raise ValueError(f"executive {name} must be finite and > 0, got {v}")


class PathPlanner(Protocol):
    """Plans a collision-free path on the water; None when there is none."""

    def __call__(self, start: XY, goal: XY) -> list[XY] | None:
        """Path from ``start`` to ``goal`` (both included)."""


@dataclass(frozen=True)
class _Task:
    kind: str                       # "lane" | "sample" | "return"
    index: int                      # lane index / sample order index / 0
    path: tuple[XY, ...] = ()       # lane path (turn + lane)
    sample: SamplePoint | None = None

    @property
    def start(self) -> XY:
        if self.kind == "lane":
            return self.path[0]
        if self.kind == "sample":
            return (self.sample.x_m, self.sample.y_m)
        raise AssertionError("the return has no fixed start")


def _dist(a: Sequence[float], b: Sequence[float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def grid_path_planner(mission: Mission) -> PathPlanner:
    """The global planner of the mission: :mod:`dg_autonomy.planning.grid_planner`.

    Grid over the area outline with the islands as obstacles, inflated by
    ``planner.inflation_m``. A start (or goal) off the grid or inside the inflation (the boat
    pushed near a shore, or outside the survey area after a geofence brake) is first joined by a
    straight segment to the nearest point that is clear by the inflation plus 1.5 cells, as
    ArduPilot's RTL goes straight home; the grid plan continues from there.
    """
    from dg_autonomy.planning.grid_planner import GridMap, plan

    res_m, infl = mission.planner_resolution_m, mission.planner_inflation_m
    grid = GridMap.from_polygons(mission.outline, list(mission.islands), res_m, infl)
    clear = mission.outline.buffer(-(infl + 1.5 * res_m))
    for isl in mission.islands:
        clear = clear.difference(isl.buffer(infl + 1.5 * res_m))

    def free(p: XY) -> bool:
        cell = grid.cell_of(p)
        return cell is not None and not grid.occupied[cell]

    def entry(p: XY) -> XY | None:
        if clear.is_empty:
            return None
        q = nearest_points(clear, Point(p))[0]
        return (q.x, q.y)

    def planner(start: XY, goal: XY) -> list[XY] | None:
        start = (float(start[0]), float(start[1]))
        goal = (float(goal[0]), float(goal[1]))
        s = start if free(start) else entry(start)
        g = goal if free(goal) else entry(goal)
        if s is None or g is None:
            return straight_line_planner(mission.area)(start, goal)
        res = plan(grid, s, g)
        if not res.ok:
            return straight_line_planner(mission.area)(start, goal)
        pts = [(float(x), float(y)) for x, y in res.path_xy]
        if _dist(pts[0], start) > 1e-6:
            pts.insert(0, start)
        if _dist(pts[-1], goal) > 1e-6:
            pts.append(goal)
        return pts

    return planner


def straight_line_planner(water: Any) -> PathPlanner:
    """A planner returning the straight segment when it stays on ``water`` (shapely)."""

    def planner(start: XY, goal: XY) -> list[XY] | None:
        seg = LineString([start, goal]) if _dist(start, goal) > 1e-9 else Point(start)
        return [tuple(start), tuple(goal)] if water.covers(seg) else None

    return planner


def split_lanes(lanes: Sequence[tuple[Sequence[float], Sequence[float]]],
                path_xy: Sequence[Sequence[float]], tol_m: float = 1.0,
                lane_start_index: Sequence[int] | None = None) -> list[tuple[XY, ...]]:
    """Cut a coverage path into one piece per lane.

    Piece ``k`` runs from the end of lane ``k-1`` (so the turn is included) to the end of lane
    ``k``; piece 0 starts at the path start (the coverage plan's own way from home). With
    ``lane_start_index`` (lane ``k`` is ``path_xy[i_k] -> path_xy[i_k + 1]``) the cut is exact;
    without it, lanes are found on the path by their end points (within ``tol_m``). A lane that
    cannot be found becomes a bare piece (its two end points, entered from the end nearer to
    the previous piece; the executive plans a transit to it).
    """
    pts = [(float(p[0]), float(p[1])) for p in path_xy]
    lanes = [((float(a[0]), float(a[1])), (float(b[0]), float(b[1]))) for a, b in lanes]
    idx = list(lane_start_index or ())
    if (len(idx) == len(lanes) and all(b > a for a, b in zip(idx, idx[1:], strict=False))
            and all(0 <= i and i + 1 < len(pts) and _dist(pts[i], lane[0]) <= tol_m
                    and _dist(pts[i + 1], lane[1]) <= tol_m for i, lane in zip(idx, lanes,
                                                                               strict=True))):
        pieces, begin = [], 0
        for i in idx:
            pieces.append(tuple(pts[begin:i + 2]))
            begin = i + 1
        return pieces
    pieces = []
    cursor = 0
    prev_end: XY | None = None
    for a, b in lanes:
        found = None
        for j in range(cursor, len(pts)):
            if _dist(pts[j], a) <= tol_m or _dist(pts[j], b) <= tol_m:
                other = b if _dist(pts[j], a) <= tol_m else a
                for k in range(j + 1, len(pts)):
                    if _dist(pts[k], other) <= tol_m:
                        found = (j, k)
                        break
                break
        if found is None:
            if prev_end is not None and _dist(prev_end, b) < _dist(prev_end, a):
                a, b = b, a
            pieces.append((a, b))
            prev_end = b
            continue
        j, k = found
        begin = cursor if pieces and cursor <= j else j
        piece = tuple(pts[begin:k + 1])
        pieces.append(piece if len(piece) >= 2 else (a, b))
        cursor, prev_end = k, pts[k]
    return pieces


def order_samples(samples: Sequence[SamplePoint], start: XY) -> list[SamplePoint]:
    """Nearest-neighbour visiting order from ``start`` (deterministic: ties by file order)."""
    left = list(samples)
    order: list[SamplePoint] = []
    here = start
    while left:
        nxt = min(left, key=lambda s: (_dist(here, (s.x_m, s.y_m)), samples.index(s)))
        left.remove(nxt)
        order.append(nxt)
        here = (nxt.x_m, nxt.y_m)
    return order


def remaining_path(path: Sequence[XY], pose: XY) -> tuple[XY, list[XY]]:
    """Projection ``q`` of ``pose`` on ``path`` and the rest of the path after ``q``."""
    line = LineString(path)
    s = line.project(Point(pose))
    q = line.interpolate(s)
    rest: list[XY] = [(q.x, q.y)]
    travelled = 0.0
    for i in range(1, len(path)):
        travelled += _dist(path[i - 1], path[i])
        if travelled > s + 1e-6:
            rest.append(tuple(path[i]))
    if len(rest) < 2:
        rest.append(tuple(path[-1]))
    return (q.x, q.y), rest


class ExecState(StrEnum):
    """The executive's states: the rows of :data:`TRANSITIONS` use these and nothing else."""

    IDLE = "idle"                                   # waiting for a first position
    TRANSIT = "transit"                             # to the task's start (or resume point)
    SURVEY = "survey"                               # following a lane piece
    SAMPLE_ACQUIRE = "sample_acquire"               # station keeping onto a sample point
    SAMPLE_DWELL = "sample_dwell"                   # on station: readings are averaged
    RETURN_HOME = "return_home"                     # the last task: the path home
    HOME_APPROACH = "home_approach"                 # path ended off home: station onto home
    DONE = "done"
    FAILED = "failed"                               # no path to a task: station keeping
    FAILSAFE_HOLD = "failsafe_hold"
    FAILSAFE_LOITER = "failsafe_loiter"
    FAILSAFE_BRAKE_TO_LOITER = "failsafe_brake_to_loiter"
    FAILSAFE_BRAKE_TO_RETURN = "failsafe_brake_to_return"
    FAILSAFE_RETURN = "failsafe_return"             # latched return home
    ABORTED = "aborted"                             # the fail-safe return ended at home


class ExecEvent(StrEnum):
    """What moves the executive; :meth:`MissionExecutive.update` raises them in this order."""

    START = "start"                # a first position (progress loaded)
    RETURN_HOME = "return_home"    # a fail-safe asks for the return, the first time (latched)
    HOLD = "hold"                  # a fail-safe asks for hold
    LOITER = "loiter"              # a fail-safe asks for loiter
    CLEAR = "clear"                # no fail-safe asks for hold, loiter or a new return
    NAV_DONE = "nav_done"          # the navigator finished the current command
    DWELL_DONE = "dwell_done"      # dwell over with a reading, or the grace time over too


_PHASE = {
    ExecState.IDLE: Phase.IDLE, ExecState.TRANSIT: Phase.TRANSIT,
    ExecState.SURVEY: Phase.SURVEY, ExecState.SAMPLE_ACQUIRE: Phase.SAMPLE,
    ExecState.SAMPLE_DWELL: Phase.SAMPLE, ExecState.RETURN_HOME: Phase.RETURN_HOME,
    ExecState.HOME_APPROACH: Phase.RETURN_HOME, ExecState.DONE: Phase.DONE,
    ExecState.FAILED: Phase.FAILED, ExecState.FAILSAFE_HOLD: Phase.FAILSAFE_HOLD,
    ExecState.FAILSAFE_LOITER: Phase.FAILSAFE_LOITER,
    ExecState.FAILSAFE_BRAKE_TO_LOITER: Phase.FAILSAFE_BRAKE,
    ExecState.FAILSAFE_BRAKE_TO_RETURN: Phase.FAILSAFE_BRAKE,
    ExecState.FAILSAFE_RETURN: Phase.FAILSAFE_RETURN, ExecState.ABORTED: Phase.ABORTED,
}
#: The mission's own states (a fail-safe interrupts them; the resume continues the task).
MISSION_STATES = (ExecState.TRANSIT, ExecState.SURVEY, ExecState.SAMPLE_ACQUIRE,
                  ExecState.SAMPLE_DWELL, ExecState.RETURN_HOME, ExecState.HOME_APPROACH)


class LegKind(StrEnum):
    """What the next command of the mission is (the guards of the task-starting rows)."""

    ALL_DONE = "all tasks done"
    RETURN = "return home"
    NO_PATH = "no path"
    TRANSIT = "transit first"
    LANE = "lane"
    SAMPLE = "sample"


class LegFrom(StrEnum):
    """Why a leg is planned: it decides the task and the goal."""

    START = "start"          # the first task not completed (after a restart too)
    ARRIVED = "arrived"      # a transit reached the current task
    NEXT = "next"            # the current task is done: the next one
    RESUME = "resume"        # a fail-safe cleared: continue the interrupted task


@dataclass(frozen=True)
class _Leg:
    kind: LegKind
    path: tuple[XY, ...] = ()
    station_xy: XY = (0.0, 0.0)
    resume_path: tuple[XY, ...] | None = None   # lane rest to survey after the transit
    why: str = ""


class MissionExecutive:
    """State machine of a survey mission with persisted progress (see the module doc).

    Its behaviour is :data:`TRANSITIONS`; the methods below are the rows' guards and effects.
    """

    def __init__(self, mission: Mission, config: ExecutiveConfig | None = None,
                 store: ProgressStore | None = None, *,
                 coverage: Callable[..., Any] | None = None,
                 planner: PathPlanner | None = None) -> None:
        """Plan the coverage and the sample order, and load the persisted progress.

        ``coverage`` defaults to :func:`dg_autonomy.coverage.boustrophedon.plan_coverage`,
        ``planner`` to :func:`grid_path_planner` (both injectable for tests).
        """
        self.mission = mission
        self.config = config or ExecutiveConfig()
        self.store = store
        if coverage is None:
            from dg_autonomy.coverage.boustrophedon import plan_coverage as coverage
        self.planner = planner or grid_path_planner(mission)
        data, note = (None, "no progress store") if store is None else store.load()
        saved = self._saved_plan(data)
        self.coverage_plan = None
        if saved is None:
            cov = coverage(mission.area, mission.swath_m, mission.shore_margin_m,
                           mission.home_xy, mission.sweep_angle_rad)
            self.coverage_plan = cov
            pieces = split_lanes(cov.lanes, cov.path_xy,
                                 lane_start_index=getattr(cov, "lane_start_index", None))
            survey_end = pieces[-1][-1] if pieces else mission.home_xy
            self.sample_order = order_samples(mission.samples, survey_end)
        else:
            # The plan of the interrupted run: the coverage search has a time budget, so
            # replanning could order the lanes differently and 'completed' would not match.
            pieces, self.sample_order = saved
        self.tasks: list[_Task] = (
            [_Task("lane", i, path=p) for i, p in enumerate(pieces)]
            + [_Task("sample", i, sample=s) for i, s in enumerate(self.sample_order)]
            + [_Task("return", 0)])
        self.n_lanes, self.n_samples = len(pieces), len(self.sample_order)
        # Progress.
        self.completed = 0
        self.records: list[SampleRecord] = []
        self._plan_id = 0
        self._persist_status = "running"
        self._finished_before = False
        self.resume_note = note
        if store is not None:
            self._load_progress(data, note)
        # The machine: its state, and the data its guards and effects read.
        self.state = ExecState.DONE if self._finished_before else TABLE.initial
        self.command: NavCommand | None = None
        self._t = 0.0
        self._pose: tuple[float, float, float, float] | None = None
        self._fs = FailsafeState()
        self._fs_text = ""                 # the fault (or failure) in the status detail
        self._return_latched = False       # a fail-safe return stays engaged (ArduPilot RTL)
        self._fence_latched = False        # a geofence hold/loiter: no automatic resume
        self._interrupted = ExecState.IDLE  # the mission state a fail-safe interrupted
        self._brake_started = 0.0
        self._acquired_at: float | None = None
        self._readings: list[tuple[float, float, float, float, float]] = []
        self._resume_path: tuple[XY, ...] | None = None
        self._memo: dict[Any, Any] = {}    # legs and paths planned for the current event
        self._events: list[str] = []
        self._new_samples: list[SampleRecord] = []
        self._changed = False

    # --- persistence ------------------------------------------------------------------
    def _signature(self) -> dict[str, Any]:
        return {"mission": self.mission.name, "digest": self.mission.digest,
                "n_lanes": self.n_lanes, "n_samples": self.n_samples}

    def _saved_plan(self, data: dict[str, Any] | None
                    ) -> tuple[list[tuple[XY, ...]], list[SamplePoint]] | None:
        """Lane pieces and sample order stored in a progress file of this very mission."""
        if (not isinstance(data, dict) or data.get("version") != PROGRESS_VERSION
                or data.get("mission") != self.mission.name
                or data.get("digest") != self.mission.digest):
            return None
        try:
            pieces = [tuple((float(x), float(y)) for x, y in piece)
                      for piece in data["lane_pieces"]]
            by_id = {s.sample_id: s for s in self.mission.samples}
            order = [by_id[i] for i in data["sample_order"]]
        except (KeyError, TypeError, ValueError):
            return None
        if (sorted(s.sample_id for s in order) != sorted(by_id)
                or any(len(p) < 2 or not all(math.isfinite(c) for xy in p for c in xy)
                       for p in pieces)):
            return None
        return pieces, order

    def _load_progress(self, data: dict[str, Any] | None, note: str) -> None:
        if data is None:
            self.resume_note = f"starting a new mission ({note})"
            return
        self._plan_id = int(data.get("last_plan_id", 0)) if isinstance(
            data.get("last_plan_id", 0), int) else 0
        sig = self._signature()
        mismatch = [k for k, v in sig.items() if data.get(k) != v]
        if data.get("version") != PROGRESS_VERSION or mismatch:
            self.resume_note = ("progress file is for another mission or plan "
                                f"({', '.join(mismatch) or 'version'} differ): starting over")
            return
        completed = data.get("completed")
        if not isinstance(completed, int) or not 0 <= completed <= len(self.tasks):
            self.resume_note = f"progress file: bad 'completed' {completed!r}: starting over"
            return
        try:
            records = [SampleRecord(**r) for r in data.get("samples", [])]
        except TypeError as exc:
            self.resume_note = f"progress file: bad sample records ({exc}): starting over"
            return
        self.completed = completed
        self.records = records
        status = data.get("status", "running")
        self._finished_before = status == "done"
        if self._finished_before:
            self.resume_note = "mission already completed (delete the progress file to rerun)"
        else:
            self.resume_note = (f"resuming after {completed}/{len(self.tasks)} tasks "
                                f"({self._task_label(completed)} next)")

    def _save(self, status: str) -> None:
        self._persist_status = status
        if self.store is None:
            return
        data = {"version": PROGRESS_VERSION, **self._signature(), "completed": self.completed,
                "status": status, "last_plan_id": self._plan_id,
                "samples": [r.as_dict() for r in self.records],
                "lane_pieces": [[list(p) for p in t.path] for t in self.tasks
                                if t.kind == "lane"],
                "sample_order": [s.sample_id for s in self.sample_order]}
        self.store.save(data)

    # --- public -----------------------------------------------------------------------
    @property
    def total(self) -> int:
        """Tasks in the mission: lanes + samples + the return home."""
        return len(self.tasks)

    @property
    def phase(self) -> Phase:
        """The published phase of the current state."""
        return _PHASE[self.state]

    def full_plan_xy(self, start: XY | None = None) -> list[XY]:
        """The whole remaining plan as one polyline (for display on ``/mission/plan``)."""
        here = start or self.mission.home_xy
        out: list[XY] = [tuple(here)]
        for task in self.tasks[self.completed:]:
            goal = self.mission.home_xy if task.kind == "return" else task.start
            if _dist(out[-1], goal) > self.config.arrive_radius_m:
                leg = self.planner(out[-1], goal) or [out[-1], goal]
                out.extend(tuple(p) for p in leg[1:])
            if task.kind == "lane":
                out.extend(task.path[1:])
        return out

    def add_reading(self, t: float, x_m: float, y_m: float, temperature_c: float,
                    dissolved_oxygen_mgl: float, turbidity_ntu: float) -> bool:
        """A water-quality reading; kept (True) only while dwelling at a sample station."""
        vals = (x_m, y_m, temperature_c, dissolved_oxygen_mgl, turbidity_ntu)
        if self.state is not ExecState.SAMPLE_DWELL or not all(math.isfinite(v) for v in vals):
            return False
        self._readings.append(vals)
        return True

    def update(self, t: float, pose: Sequence[float] | None = None,
               nav: NavFeedback | None = None,
               failsafe: FailsafeState | None = None) -> StepOutput:
        """Advance the mission at time ``t`` [s]: raise this cycle's events in order.

        ``pose``: (x, y[, vx, vy]) in the map frame [m, m/s] or None when unknown; ``nav``:
        the latest navigator status; ``failsafe``: the monitor's state. The events: START
        while idle with a position; one fail-safe event (RETURN_HOME the first time the
        monitor asks for it, then HOLD, LOITER or CLEAR: a latched return asks for nothing
        new); NAV_DONE when the navigator finished the current command; DWELL_DONE when a
        dwell is over.
        """
        self._changed = False
        self._events, self._new_samples = [], []
        self._t = t
        if pose is not None:
            vx, vy = (pose[2], pose[3]) if len(pose) >= 4 else (0.0, 0.0)
            self._pose = (float(pose[0]), float(pose[1]), float(vx), float(vy))
        if self.state in (ExecState.DONE, ExecState.FAILED) or self._pose is None:
            return self._output()
        if self.state is ExecState.IDLE:
            self._event(self.resume_note)
            self._handle(ExecEvent.START)
        self._fs = failsafe or FailsafeState()
        action = self._fs.action
        if action is FailsafeAction.RETURN_HOME and not self._return_latched:
            self._handle(ExecEvent.RETURN_HOME)
        elif action is FailsafeAction.HOLD:
            self._handle(ExecEvent.HOLD)
        elif action is FailsafeAction.LOITER:
            self._handle(ExecEvent.LOITER)
        else:
            self._handle(ExecEvent.CLEAR)
        if (nav is not None and self.command is not None and nav.finished
                and nav.plan_id == self.command.plan_id):
            self._handle(ExecEvent.NAV_DONE)
        if self.state is ExecState.SAMPLE_DWELL and self._dwell_over():
            self._handle(ExecEvent.DWELL_DONE)
        return self._output()

    def _handle(self, event: ExecEvent) -> None:
        """Take the first row of (state, event) whose guard holds; nothing if none."""
        self._memo.clear()
        row = TABLE.select(self, self.state, event)
        if row is not None:
            self.state = row.next
            row.effect(self)

    # --- guards -----------------------------------------------------------------------
    def _speed(self) -> float:
        return math.hypot(self._pose[2], self._pose[3])

    def _xy(self) -> XY:
        return (self._pose[0], self._pose[1])

    def fence_cause(self) -> bool:
        """The fail-safe is for the geofence."""
        return self._fs.cause is Fault.GEOFENCE

    def fence_and_moving(self) -> bool:
        """A geofence fail-safe while faster than ``brake_speed_mps`` (turning could cross)."""
        return self.fence_cause() and self._speed() > self.config.brake_speed_mps

    def braked(self) -> bool:
        """Slower than ``brake_speed_mps``, or braking for ``brake_timeout_s``."""
        return (self._speed() <= self.config.brake_speed_mps
                or self._t - self._brake_started >= self.config.brake_timeout_s)

    def at_home(self) -> bool:
        """Within ``arrive_radius_m`` of home."""
        return _dist(self._xy(), self.mission.home_xy) <= self.config.arrive_radius_m

    def no_path_home(self) -> bool:
        """The planner finds no path home from here."""
        return self._path_home() is None

    def loiter_centre(self) -> XY | None:
        """Where the loiter circles: here, moved inside the geofence; None if it cannot fit."""
        r = self.config.loiter_radius_m
        inner = self.mission.geofence.buffer(-(r + self.mission.geofence_margin_m))
        if inner.is_empty:
            return None
        centre = self._xy()
        if not inner.covers(Point(centre)):
            q = nearest_points(inner, Point(centre))[0]
            centre = (q.x, q.y)
        return centre

    def leg(self, why: LegFrom) -> _Leg:
        """The next command of the mission (planned once per event)."""
        key = ("leg", why)
        if key not in self._memo:
            self._memo[key] = self._plan_leg(why)
        return self._memo[key]

    def _path_home(self) -> list[XY] | None:
        if "home" not in self._memo:
            self._memo["home"] = self.planner(self._xy(), self.mission.home_xy)
        return self._memo["home"]

    def _plan_leg(self, why: LegFrom) -> _Leg:
        """Decide the leg: the task, whether a transit comes first, and its path."""
        k = self.completed + (1 if why is LegFrom.NEXT else 0)
        if k >= len(self.tasks):
            return _Leg(LegKind.ALL_DONE)
        task, here, near = self.tasks[k], self._xy(), self.config.arrive_radius_m
        if task.kind == "return":
            home = self.mission.home_xy
            path = [here, home] if _dist(here, home) <= near else self._path_home()
            if path is None:
                return _Leg(LegKind.NO_PATH, why=f"no path home from {self._fmt(here)}")
            return _Leg(LegKind.RETURN, path=tuple(path))
        resume, goal = self._resume_path, None
        if task.kind == "sample":
            goal = None if why is LegFrom.ARRIVED else task.start
        elif why is LegFrom.RESUME and self._interrupted is ExecState.SURVEY:
            goal, rest = remaining_path(task.path, here)
            resume = tuple(rest)
        elif why is LegFrom.RESUME and self._interrupted is ExecState.TRANSIT and resume:
            # Interrupted again on the way back to the lane: the same point, not the lane's
            # start (that would re-survey what is done and skip nothing new).
            goal = resume[0]
        elif why is not LegFrom.ARRIVED:
            # Far from the piece (after a restart, or a transit to it was needed): go to the
            # lane itself and survey it, skipping the previous turn.
            resume = None
            if _dist(here, task.start) > near:
                goal = task.path[-2]
                resume = (task.path[-2], task.path[-1])
        if goal is not None and _dist(here, goal) > near:
            path = self.planner(here, goal)
            if path is None:
                return _Leg(LegKind.NO_PATH,
                            why=f"no path from {self._fmt(here)} to {self._fmt(goal)}")
            return _Leg(LegKind.TRANSIT, path=tuple(path), resume_path=resume)
        if task.kind == "sample":
            return _Leg(LegKind.SAMPLE, station_xy=task.start, resume_path=resume)
        path = list(resume or task.path)
        if _dist(here, path[0]) > 1e-3:
            path[0] = here  # start from where the boat is (it is within arrive radius)
        return _Leg(LegKind.LANE, path=tuple(path))

    def _dwell_over(self) -> bool:
        dwell = self._t - self._acquired_at
        return dwell >= self.mission.dwell_s and (
            bool(self._readings) or dwell >= self.mission.dwell_s + self.config.sample_grace_s)

    # --- effects ----------------------------------------------------------------------
    def start_leg(self, why: LegFrom) -> None:
        """Issue the leg's command."""
        leg = self.leg(why)
        self._resume_path = leg.resume_path
        self._acquired_at, self._readings = None, []
        if leg.kind is LegKind.NO_PATH:
            self._fs_text = leg.why
            self._issue(self._station(self._xy()))
            self._save("running")
            self._event(f"mission failed: {leg.why}")
        elif leg.kind in (LegKind.TRANSIT, LegKind.RETURN):
            self._issue(self._follow(leg.path, self.mission.transit_speed_mps))
        elif leg.kind is LegKind.LANE:
            self._issue(self._follow(leg.path, self.mission.speed_mps))
        elif leg.kind is LegKind.SAMPLE:
            self._issue(self._station(leg.station_xy))

    def complete_task(self) -> None:
        """The current lane or sample is done: count and persist it."""
        self.completed += 1
        self._save("running")
        self._event(f"completed {self._task_label(self.completed - 1)} "
                    f"({self.completed}/{self.total})")

    def record_sample(self) -> None:
        """Average the dwell's readings into the sample's record."""
        sp = self.tasks[self.completed].sample
        n = len(self._readings)
        if n:
            mean = [sum(r[i] for r in self._readings) / n for i in range(5)]
            rec = SampleRecord(sp.sample_id, mean[0], mean[1], self._t, mean[2], mean[3],
                               mean[4], n)
        else:
            rec = SampleRecord(sp.sample_id, sp.x_m, sp.y_m, self._t, None, None, None, 0)
            self._event(f"sample {sp.sample_id}: no water-quality reading during the dwell")
        self.records.append(rec)
        self._new_samples.append(rec)

    def station_acquired(self) -> None:
        """The dwell starts."""
        self._acquired_at = self._t
        self._event(f"station acquired at sample {self.tasks[self.completed].sample.sample_id}")

    def approach_home(self) -> None:
        """The path home ended off home (cross-track error, drift): keep station onto it."""
        self._issue(self._station(self.mission.home_xy))

    def finish(self) -> None:
        """The return home is done: the mission is complete."""
        self.completed += 1
        self._issue(self._station(self.mission.home_xy))
        self._save("done")
        self._event(f"mission complete: {self.n_lanes} lanes, {len(self.records)} samples, "
                    "back home")

    def note_request(self, what: str) -> None:
        """A fail-safe asks for ``what``: say so; a geofence cause latches hold and loiter."""
        self.note_fence()
        self._fs_text = self._fs.reasons()
        self._event(f"fail-safe: {self._fs_text}: {what}")

    def note_fence(self) -> None:
        """A geofence hold or loiter latches (ArduPilot keeps the fence action's mode)."""
        if self.fence_cause():
            self._fence_latched = True

    def request_return(self) -> None:
        """Latch the return home."""
        self._return_latched = True
        self._fs_text = self._fs.reasons()
        self._event(f"fail-safe: {self._fs_text}: returning home (latched)")

    def hold_here(self) -> None:
        """Station keeping where the boat is."""
        self._issue(self._station(self._xy()))

    def brake(self) -> None:
        """Station keeping on the spot until slow (the brake's clock starts)."""
        self._brake_started = self._t
        self.hold_here()

    def loiter(self) -> None:
        """Circle around the loiter centre."""
        self._issue(NavCommand(0, NavMode.LOITER, station_xy=self.loiter_centre(),
                               loiter_radius_m=self.config.loiter_radius_m,
                               speed_mps=min(self.mission.transit_speed_mps, 1.0),
                               heading_into_weather=self.config.heading_into_weather,
                               collision_avoidance=self.config.collision_avoidance))

    def loiter_does_not_fit(self) -> None:
        """Hold instead of a loiter circle that does not fit in the geofence."""
        self._event("loiter circle does not fit in the geofence: holding instead")
        self.hold_here()

    def go_home(self) -> None:
        """Follow the planned path home (the fail-safe return)."""
        self._issue(self._follow(self._path_home(), self.mission.transit_speed_mps))

    def no_way_home(self) -> None:
        """No path home: hold, latched."""
        self._event(f"no path home from {self._fmt(self._xy())}: holding (latched)")
        self._fence_latched = True
        self.hold_here()

    def abort_at_home(self) -> None:
        """The fail-safe return ended at home: the mission ends aborted, progress kept."""
        self._issue(self._station(self.mission.home_xy))
        self._save("aborted")
        self._event(f"mission aborted at home after {self._fs_text}; progress kept "
                    f"({self.completed}/{self.total})")

    # --- helpers ----------------------------------------------------------------------
    def _follow(self, path: Sequence[XY], speed: float) -> NavCommand:
        pts = [tuple(map(float, p)) for p in path]
        if len(pts) == 1:
            pts.append(pts[0])
        return NavCommand(0, NavMode.FOLLOW_PATH, path_xy=tuple(pts), speed_mps=speed,
                          collision_avoidance=self.config.collision_avoidance)

    def _station(self, xy: XY) -> NavCommand:
        return NavCommand(0, NavMode.STATION_KEEP, station_xy=(float(xy[0]), float(xy[1])),
                          heading_into_weather=self.config.heading_into_weather)

    def _issue(self, cmd: NavCommand) -> None:
        self._plan_id += 1
        self.command = NavCommand(**{**cmd.__dict__, "plan_id": self._plan_id})
        self._changed = True
        # Persist the id at once: after a restart ids continue, so a stale 'finished' status
        # of this command can never complete a task of the next run.
        self._save(self._persist_status)

    def _event(self, text: str) -> None:
        self._events.append(text)

    @staticmethod
    def _fmt(xy: XY) -> str:
        return f"({xy[0]:.1f}, {xy[1]:.1f})"

    def _task_label(self, k: int) -> str:
        if k >= len(self.tasks):
            return "nothing"
        task = self.tasks[k]
        if task.kind == "lane":
            return f"lane {task.index + 1}/{self.n_lanes}"
        if task.kind == "sample":
            return f"sample {task.sample.sample_id} ({task.index + 1}/{self.n_samples})"
        return "return home"

    def _status(self) -> ExecutiveStatus:
        ph, k = self.phase, self.completed
        label = self._task_label(k)
        if ph is Phase.IDLE:
            state, detail = MissionState.IDLE, "IDLE waiting for a position"
        elif ph is Phase.DONE:
            state, detail = MissionState.SUCCEEDED, (
                f"DONE {self.n_lanes} lanes, {len(self.records)} samples, back home")
        elif ph is Phase.FAILED:
            state, detail = MissionState.FAILED, f"FAILED {self._fs_text}"
        elif ph is Phase.ABORTED:
            state, detail = MissionState.FAILED, f"ABORTED at home ({self._fs_text})"
        elif ph in (Phase.FAILSAFE_HOLD, Phase.FAILSAFE_LOITER, Phase.FAILSAFE_BRAKE,
                    Phase.FAILSAFE_RETURN):
            state, detail = MissionState.HOLDING, f"{ph.value} ({self._fs_text}) at {label}"
        elif ph is Phase.TRANSIT:
            state, detail = MissionState.RUNNING, f"TRANSIT to {label}"
        elif ph is Phase.SURVEY:
            state, detail = MissionState.RUNNING, f"SURVEY {label}"
        elif ph is Phase.SAMPLE:
            task = self.tasks[k]
            dwell = ""
            if self.state is ExecState.SAMPLE_DWELL:
                d = self._t - self._acquired_at
                dwell = f" dwell {min(d, self.mission.dwell_s):.0f}/{self.mission.dwell_s:.0f} s"
            state, detail = MissionState.RUNNING, (
                f"SAMPLE {task.sample.sample_id} ({task.index + 1}/{self.n_samples}){dwell}")
        else:
            state, detail = MissionState.RUNNING, "RETURN_HOME"
        return ExecutiveStatus(state, ph, detail, min(k, self.total), self.total)

    def _output(self) -> StepOutput:
        return StepOutput(self.command, self._changed, self._status(),
                          list(self._new_samples), list(self._events))


# --- the transition table ---------------------------------------------------------------
Row = Transition[ExecState, ExecEvent, MissionExecutive]
Fn = Callable[[MissionExecutive], Any]
X, S, E = MissionExecutive, ExecState, ExecEvent
_LEG_TARGET = {LegKind.ALL_DONE: S.DONE, LegKind.RETURN: S.RETURN_HOME,
               LegKind.NO_PATH: S.FAILED, LegKind.TRANSIT: S.TRANSIT, LegKind.LANE: S.SURVEY,
               LegKind.SAMPLE: S.SAMPLE_ACQUIRE}
_NEXT = (LegKind.RETURN, LegKind.NO_PATH, LegKind.TRANSIT, LegKind.LANE, LegKind.SAMPLE)


def _then(*effects: Fn | None) -> Fn:
    run = [f for f in effects if f is not None]

    def effect(m: MissionExecutive) -> None:
        for f in run:
            f(m)
    return effect


def _all(*guards: Fn | None) -> Fn:
    need = [g for g in guards if g is not None]
    return lambda m: all(g(m) for g in need)


def _label(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


def _asked_hold(m: MissionExecutive) -> None:
    m.note_request("hold")


def _asked_loiter(m: MissionExecutive) -> None:
    m.note_request("loiter")


def _fence_latched(m: MissionExecutive) -> bool:
    return m._fence_latched


def _return_latched(m: MissionExecutive) -> bool:
    return m._return_latched


def _continue_return(m: MissionExecutive) -> None:
    m._event("fail-safe hold/loiter cleared: continuing the return home")


def _resume(m: MissionExecutive) -> None:
    m._event(f"fail-safe cleared ({m._fs_text}): resuming the mission")


def _legs(state: ExecState, event: ExecEvent, why: LegFrom, kinds: Sequence[LegKind],
          before: Fn | None = None, guard: Fn | None = None, when: str = "") -> list[Row]:
    """Rows that start the leg planned for ``why``: one per kind it can be."""
    return [Row(state, event, _LEG_TARGET[kind], _then(before, lambda m: m.start_leg(why)),
                _all(guard, lambda m, k=kind: m.leg(why).kind is k), _label(when, kind.value))
            for kind in kinds]


def _returns(state: ExecState, event: ExecEvent, before: Fn | None = None,
             guard: Fn | None = None, when: str = "") -> list[Row]:
    """The return home: aborted at once when home, a latched hold without a path, or the path."""
    return [Row(state, event, S.ABORTED, _then(before, X.abort_at_home),
                _all(guard, X.at_home), _label(when, "at home")),
            Row(state, event, S.FAILSAFE_HOLD, _then(before, X.no_way_home),
                _all(guard, X.no_path_home), _label(when, "no path home")),
            Row(state, event, S.FAILSAFE_RETURN, _then(before, X.go_home), _all(guard), when)]


def _loiters(state: ExecState, event: ExecEvent, before: Fn | None = None, *,
             brake: bool = True, guard: Fn | None = None, when: str = "") -> list[Row]:
    """A loiter: braking first at the fence while moving; a hold when it does not fit."""
    rows = [Row(state, event, S.FAILSAFE_BRAKE_TO_LOITER, _then(before, X.brake),
                _all(guard, X.fence_and_moving), _label(when, "geofence, moving"))]
    return (rows if brake else []) + [
        Row(state, event, S.FAILSAFE_HOLD, _then(before, X.loiter_does_not_fit),
            _all(guard, lambda m: m.loiter_centre() is None), _label(when, "does not fit")),
        Row(state, event, S.FAILSAFE_LOITER, _then(before, X.loiter), _all(guard), when)]


def _return_request(state: ExecState, before: Fn | None = None) -> list[Row]:
    """The first return-home request: braking first at the fence, then the return (latched)."""
    return [Row(state, E.RETURN_HOME, S.FAILSAFE_BRAKE_TO_RETURN,
                _then(before, X.request_return, X.brake), X.fence_cause, "geofence"),
            *_returns(state, E.RETURN_HOME, _then(before, X.request_return))]


def _interruptions(state: ExecState) -> list[Row]:
    """A fail-safe interrupts a mission state, which the resume continues."""
    def interrupt(m: MissionExecutive) -> None:
        m._interrupted = state

    return [*_return_request(state, interrupt),
            Row(state, E.HOLD, S.FAILSAFE_HOLD, _then(interrupt, _asked_hold, X.hold_here)),
            *_loiters(state, E.LOITER, _then(interrupt, _asked_loiter))]


def _holding(state: ExecState) -> list[Row]:
    """Hold or loiter: the other one, the return, or the resume once every fault cleared."""
    hold, loiter = S.FAILSAFE_HOLD, S.FAILSAFE_LOITER
    switch = ([Row(hold, E.HOLD, hold, X.note_fence), *_loiters(hold, E.LOITER, _asked_loiter)]
              if state is hold else
              [Row(loiter, E.HOLD, hold, _then(_asked_hold, X.hold_here)),
               Row(loiter, E.LOITER, loiter, X.note_fence)])
    return [*_return_request(state), *switch,
            Row(state, E.CLEAR, state, guard=_fence_latched, when="geofence latched"),
            *_returns(state, E.CLEAR, _continue_return, _return_latched, "return latched"),
            *_legs(state, E.CLEAR, LegFrom.RESUME, _NEXT, _resume, when="resume")]


def _overridden(state: ExecState) -> list[Row]:
    """Braking, returning or aborted: a hold or loiter request still takes over."""
    return [Row(state, E.HOLD, S.FAILSAFE_HOLD, _then(_asked_hold, X.hold_here)),
            *_loiters(state, E.LOITER, _asked_loiter)]


#: The executive's behaviour, row by row: the first row of (state, event) whose guard holds
#: is taken (drawn in the package README).
TRANSITIONS: tuple[Row, ...] = (
    *_legs(S.IDLE, E.START, LegFrom.START, (LegKind.ALL_DONE, *_NEXT)),
    *_legs(S.TRANSIT, E.NAV_DONE, LegFrom.ARRIVED, (LegKind.LANE, LegKind.SAMPLE)),
    *_legs(S.SURVEY, E.NAV_DONE, LegFrom.NEXT, _NEXT, X.complete_task),
    Row(S.SAMPLE_ACQUIRE, E.NAV_DONE, S.SAMPLE_DWELL, X.station_acquired),
    *_legs(S.SAMPLE_DWELL, E.DWELL_DONE, LegFrom.NEXT, _NEXT,
           _then(X.record_sample, X.complete_task)),
    *(row for st in (S.RETURN_HOME, S.HOME_APPROACH) for row in (
        Row(st, E.NAV_DONE, S.DONE, X.finish, X.at_home, "at home"),
        Row(st, E.NAV_DONE, S.HOME_APPROACH, X.approach_home))),
    *(row for st in MISSION_STATES for row in _interruptions(st)),
    *_holding(S.FAILSAFE_HOLD),
    *_holding(S.FAILSAFE_LOITER),
    Row(S.FAILSAFE_BRAKE_TO_LOITER, E.HOLD, S.FAILSAFE_HOLD, _then(_asked_hold, X.hold_here)),
    *_loiters(S.FAILSAFE_BRAKE_TO_LOITER, E.LOITER, brake=False, guard=X.braked, when="braked"),
    *_loiters(S.FAILSAFE_BRAKE_TO_LOITER, E.CLEAR, brake=False, guard=X.braked, when="braked"),
    *_return_request(S.FAILSAFE_BRAKE_TO_LOITER),
    *_overridden(S.FAILSAFE_BRAKE_TO_RETURN),
    *_returns(S.FAILSAFE_BRAKE_TO_RETURN, E.CLEAR, guard=X.braked, when="braked"),
    *_overridden(S.FAILSAFE_RETURN),
    Row(S.FAILSAFE_RETURN, E.NAV_DONE, S.ABORTED, X.abort_at_home),
    *_overridden(S.ABORTED),
)
TABLE = TransitionTable(TRANSITIONS, ExecState.IDLE)


def transition_table_markdown() -> str:
    """The transition table as a Mermaid state diagram (for the package README)."""
    return TABLE.mermaid(finals=(ExecState.DONE, ExecState.FAILED),
                         groups={"mission": MISSION_STATES})

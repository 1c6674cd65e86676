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


class MissionExecutive:
    """State machine of a survey mission with persisted progress (see the module doc)."""

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
        # Progress and state.
        self.completed = 0
        self.records: list[SampleRecord] = []
        self._plan_id = 0
        self._persist_status = "running"
        self._finished_before = False
        self.resume_note = note
        if store is not None:
            self._load_progress(data, note)
        self.phase = Phase.IDLE
        self._sub = "idle"                 # idle | transit | execute
        self._detail_extra = ""
        self.command: NavCommand | None = None
        self._pose: tuple[float, float, float, float] | None = None
        self._fs_mode: str | None = None   # hold | loiter | brake | rtl
        self._rtl_latched = False
        self._fs_latched = False           # geofence hold/loiter: no automatic resume
        self._brake_started = 0.0
        self._brake_then = ""              # rtl | loiter
        self._fs_text = ""
        self._acquired_at: float | None = None
        self._readings: list[tuple[float, float, float, float, float]] = []
        self._resume_path: list[XY] | None = None
        self._events: list[str] = []
        self._new_samples: list[SampleRecord] = []
        self._changed = False
        if self._finished_before:
            self.phase = Phase.DONE

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
        if (self.phase is not Phase.SAMPLE or self._acquired_at is None
                or not all(math.isfinite(v) for v in vals)):
            return False
        self._readings.append(vals)
        return True

    def update(self, t: float, pose: Sequence[float] | None = None,
               nav: NavFeedback | None = None,
               failsafe: FailsafeState | None = None) -> StepOutput:
        """Advance the mission at time ``t`` [s].

        ``pose``: (x, y[, vx, vy]) in the map frame [m, m/s] or None when unknown; ``nav``:
        the latest navigator status; ``failsafe``: the monitor's state.
        """
        self._changed = False
        self._events, self._new_samples = [], []
        if pose is not None:
            vx, vy = (pose[2], pose[3]) if len(pose) >= 4 else (0.0, 0.0)
            self._pose = (float(pose[0]), float(pose[1]), float(vx), float(vy))
        if self.phase in (Phase.DONE, Phase.FAILED):
            return self._output()
        if self._pose is None:
            if failsafe is not None and failsafe.action is not FailsafeAction.NONE \
                    and self.command is not None and self.command.mode is not NavMode.IDLE:
                self._issue(NavCommand(0, NavMode.IDLE))
                self._event(f"fail-safe {failsafe.describe()} without a position: idle")
            return self._output()
        if self.phase is Phase.IDLE:
            self._event(self.resume_note)
            self._start_task(t)
        self._handle_failsafe(t, failsafe or FailsafeState())
        if self.phase not in (Phase.DONE, Phase.FAILED):
            self._handle_feedback(t, nav)
        return self._output()

    # --- fail-safes -------------------------------------------------------------------
    def _handle_failsafe(self, t: float, fs: FailsafeState) -> None:
        action = fs.action
        if action is FailsafeAction.RETURN_HOME and not self._rtl_latched \
                and self.phase is not Phase.ABORTED:
            self._rtl_latched = True
            self._fs_text = fs.reasons()
            self._event(f"fail-safe: {self._fs_text}: returning home (latched)")
            if fs.cause is Fault.GEOFENCE:
                self._enter_brake(t, "rtl")
            else:
                self._enter_rtl()
            return
        if action in (FailsafeAction.HOLD, FailsafeAction.LOITER):
            want = action.value
            if fs.cause is Fault.GEOFENCE:
                self._fs_latched = True
            if self._fs_mode == "brake" and self._brake_then == "loiter" and want == "loiter":
                self._check_brake(t)
                return
            if self._fs_mode != want:
                self._fs_text = fs.reasons()
                self._event(f"fail-safe: {self._fs_text}: {want}")
                if want == "hold":
                    self._enter_hold()
                elif fs.cause is Fault.GEOFENCE and self._speed() > self.config.brake_speed_mps:
                    self._enter_brake(t, "loiter")
                else:
                    self._enter_loiter()
            return
        # No hold/loiter wanted.
        if self._fs_mode == "brake":
            self._check_brake(t)
        elif self._fs_mode in ("hold", "loiter"):
            if self._fs_latched:
                return  # a geofence hold/loiter stays (ArduPilot keeps the fence action mode)
            if self._rtl_latched:
                self._event("fail-safe hold/loiter cleared: continuing the return home")
                self._enter_rtl()
            else:
                self._event(f"fail-safe cleared ({self._fs_text}): resuming the mission")
                self._fs_mode = None
                self._start_task(t, resume=True)

    def _speed(self) -> float:
        return math.hypot(self._pose[2], self._pose[3]) if self._pose else 0.0

    def _xy(self) -> XY:
        return (self._pose[0], self._pose[1])

    def _enter_hold(self) -> None:
        self._fs_mode = "hold"
        self.phase = Phase.FAILSAFE_HOLD
        self._issue(self._station(self._xy()))

    def _enter_loiter(self) -> None:
        center = self._xy()
        r = self.config.loiter_radius_m
        inner = self.mission.geofence.buffer(-(r + self.mission.geofence_margin_m))
        if inner.is_empty:
            self._event("loiter circle does not fit in the geofence: holding instead")
            self._enter_hold()
            return
        if not inner.covers(Point(center)):
            q = nearest_points(inner, Point(center))[0]
            center = (q.x, q.y)
        self._fs_mode = "loiter"
        self.phase = Phase.FAILSAFE_LOITER
        self._issue(NavCommand(0, NavMode.LOITER, station_xy=center, loiter_radius_m=r,
                               speed_mps=min(self.mission.transit_speed_mps, 1.0),
                               heading_into_weather=self.config.heading_into_weather,
                               collision_avoidance=self.config.collision_avoidance))

    def _enter_brake(self, t: float, then: str) -> None:
        self._fs_mode, self._brake_then, self._brake_started = "brake", then, t
        self.phase = Phase.FAILSAFE_BRAKE
        self._issue(self._station(self._xy()))

    def _check_brake(self, t: float) -> None:
        if (self._speed() <= self.config.brake_speed_mps
                or t - self._brake_started >= self.config.brake_timeout_s):
            if self._brake_then == "rtl":
                self._enter_rtl()
            else:
                self._enter_loiter()

    def _enter_rtl(self) -> None:
        self._fs_mode = "rtl"
        self.phase = Phase.FAILSAFE_RETURN
        home = self.mission.home_xy
        if _dist(self._xy(), home) <= self.config.arrive_radius_m:
            self._abort_at_home()
            return
        path = self.planner(self._xy(), home)
        if path is None:
            self._event(f"no path home from {self._fmt(self._xy())}: holding (latched)")
            self._fs_latched = True
            self._enter_hold()
            return
        self._issue(self._follow(path, self.mission.transit_speed_mps))

    def _abort_at_home(self) -> None:
        self.phase = Phase.ABORTED
        self._fs_mode = None
        self._issue(self._station(self.mission.home_xy))
        self._save("aborted")
        self._event(f"mission aborted at home after {self._fs_text}; progress kept "
                    f"({self.completed}/{self.total})")

    # --- normal flow ------------------------------------------------------------------
    def _handle_feedback(self, t: float, nav: NavFeedback | None) -> None:
        done = (nav is not None and self.command is not None and nav.finished
                and nav.plan_id == self.command.plan_id)
        if self._fs_mode == "rtl":
            if done:
                self._abort_at_home()
            return
        if self._fs_mode is not None or self.phase is Phase.ABORTED:
            return
        if self._sub == "transit":
            if done:
                self._start_task(t, after_transit=True)
            return
        if self._sub != "execute":
            return
        task = self.tasks[self.completed]
        if task.kind == "sample":
            if done and self._acquired_at is None:
                self._acquired_at = t
                self._event(f"station acquired at sample {task.sample.sample_id}")
            if self._acquired_at is not None:
                dwell = t - self._acquired_at
                self._detail_extra = f" dwell {min(dwell, self.mission.dwell_s):.0f}/" \
                                     f"{self.mission.dwell_s:.0f} s"
                if dwell >= self.mission.dwell_s and (
                        self._readings or dwell >= self.mission.dwell_s
                        + self.config.sample_grace_s):
                    self._record_sample(t, task.sample)
                    self._complete_task(t)
            return
        if done:
            self._complete_task(t)

    def _record_sample(self, t: float, sp: SamplePoint) -> None:
        n = len(self._readings)
        if n:
            mean = [sum(r[i] for r in self._readings) / n for i in range(5)]
            rec = SampleRecord(sp.sample_id, mean[0], mean[1], t, mean[2], mean[3], mean[4], n)
        else:
            rec = SampleRecord(sp.sample_id, sp.x_m, sp.y_m, t, None, None, None, 0)
            self._event(f"sample {sp.sample_id}: no water-quality reading during the dwell")
        self.records.append(rec)
        self._new_samples.append(rec)

    def _complete_task(self, t: float) -> None:
        task = self.tasks[self.completed]
        if task.kind == "return" and \
                _dist(self._xy(), self.mission.home_xy) > self.config.arrive_radius_m:
            # The path ended off home (cross-track error, drift): keep station onto home
            # first; the navigator's "station acquired" completes the task.
            self._issue(self._station(self.mission.home_xy))
            return
        self.completed += 1
        if task.kind == "return":
            self.phase = Phase.DONE
            self._sub = "idle"
            self._issue(self._station(self.mission.home_xy))
            self._save("done")
            self._event(f"mission complete: {self.n_lanes} lanes, {len(self.records)} samples, "
                        "back home")
            return
        self._save("running")
        self._event(f"completed {self._task_label(self.completed - 1)} "
                    f"({self.completed}/{self.total})")
        self._start_task(t)

    def _start_task(self, t: float, resume: bool = False, after_transit: bool = False) -> None:
        """Issue the command for the next task (a transit first when far from its start)."""
        self._detail_extra = ""
        if self.completed >= len(self.tasks):
            self.phase = Phase.DONE
            return
        task = self.tasks[self.completed]
        here = self._xy()
        if task.kind == "return":
            self.phase, self._sub = Phase.RETURN_HOME, "execute"
            if _dist(here, self.mission.home_xy) <= self.config.arrive_radius_m:
                path = [here, self.mission.home_xy]
            else:
                path = self.planner(here, self.mission.home_xy)
            if path is None:
                self._fail(f"no path home from {self._fmt(here)}")
                return
            self._issue(self._follow(path, self.mission.transit_speed_mps))
            return
        if task.kind == "lane":
            if resume and self._sub == "execute":
                q, rest = remaining_path(task.path, here)
                self._resume_path = rest
                goal = q
            elif resume and self._sub == "transit" and self._resume_path:
                # Interrupted again on the way back to the lane: the same point, not the
                # lane's start (that would re-survey what is done and skip nothing new).
                goal = self._resume_path[0]
            elif not after_transit:
                # Far from the piece (after a restart, or a transit to it was needed): go to
                # the lane itself and survey it, skipping the previous turn.
                self._resume_path = None
                goal = None
                if _dist(here, task.start) > self.config.arrive_radius_m:
                    goal = task.path[-2]
                    self._resume_path = [task.path[-2], task.path[-1]]
            else:
                goal = None
        else:
            goal = None if after_transit else task.start
            self._acquired_at, self._readings = None, []
        if goal is not None and _dist(here, goal) > self.config.arrive_radius_m:
            path = self.planner(here, goal)
            if path is None:
                self._fail(f"no path from {self._fmt(here)} to {self._fmt(goal)}")
                return
            self.phase, self._sub = Phase.TRANSIT, "transit"
            self._issue(self._follow(path, self.mission.transit_speed_mps))
            return
        self._sub = "execute"
        if task.kind == "lane":
            self.phase = Phase.SURVEY
            path = list(self._resume_path) if self._resume_path else list(task.path)
            self._resume_path = None
            if _dist(here, path[0]) > 1e-3:
                path[0] = here  # start from where the boat is (it is within arrive radius)
            self._issue(self._follow(path, self.mission.speed_mps))
        else:
            self.phase = Phase.SAMPLE
            self._acquired_at, self._readings = None, []
            self._issue(self._station(task.start))

    def _fail(self, why: str) -> None:
        self.phase = Phase.FAILED
        self._fs_text = why
        self._issue(self._station(self._xy()))
        self._save("running")
        self._event(f"mission failed: {why}")

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
            state, detail = MissionState.RUNNING, (
                f"SAMPLE {task.sample.sample_id} ({task.index + 1}/{self.n_samples})"
                f"{self._detail_extra}")
        else:
            state, detail = MissionState.RUNNING, "RETURN_HOME"
        return ExecutiveStatus(state, ph, detail, min(k, self.total), self.total)

    def _output(self) -> StepOutput:
        return StepOutput(self.command, self._changed, self._status(),
                          list(self._new_samples), list(self._events))

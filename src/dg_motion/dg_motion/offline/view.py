"""Browser view of a checked job: the cell, the arm playing the job back, the failing move.

Built on ``viser`` (a maintained three.js scene server: the Python side pushes shapes and
poses over a websocket, any browser renders them). The view shows what the checks saw: the
cell's static boxes, the arm's URDF collision shapes, the gripper and the held part (the
primitives of :mod:`.collision`), the planned TCP path (blue; the failing move's in red), a
timeline slider over the planned moves with a play/pause button, and the current move's name
and status. During the failing move the arm turns red and the GUI shows the move's name and
why it failed; the view opens at the failure's time.

It binds to ``127.0.0.1`` by default (a job view is a local tool, not a network service).
"""

# Transforms keep the textbook capital T.
# ruff: noqa: N803, N806

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pinocchio as pin
import viser

from dg_motion.offline.checks import JobReport, MoveStatus
from dg_motion.offline.collision import CollisionWorld, Shape
from dg_motion.offline.job import Job
from dg_motion.offline.planner import PlannedMove

_CELL_COLOR = (150, 156, 165)
_ARM_COLOR = (90, 140, 210)
_FAIL_COLOR = (230, 40, 40)
_PART_COLOR = (230, 170, 40)
_PATH_DT_S = 0.02


def _wxyz(T: np.ndarray) -> np.ndarray:
    q = pin.Quaternion(T[:3, :3])
    return np.array([q.w, q.x, q.y, q.z])


class JobView:
    """A viser server showing ``job`` with its planned ``moves`` and check ``report``."""

    def __init__(self, job: Job, moves: Sequence[PlannedMove], report: JobReport, *,
                 host: str = "127.0.0.1", port: int = 8080) -> None:
        """Start the server and build the scene (returns at once; the server runs threaded)."""
        self.job, self.moves, self.report = job, list(moves), report
        self.world = CollisionWorld(job.arm.urdf_path, job.cell, pin_model=job.arm.pin_model)
        self.client_connected = threading.Event()
        self.server = viser.ViserServer(host=host, port=port, verbose=False)
        self.server.on_client_connect(self._on_connect)
        self.duration_s = sum(m.duration_s for m in self.moves)
        self.failing = report.first_failure
        self._lock = threading.RLock()  # the slider's callback re-enters show()
        self._t_shown = -1.0
        self._playing = threading.Event()
        self._closed = threading.Event()
        self._build_scene()
        self._build_gui()
        t0 = 0.0
        if self.failing is not None and self.failing.t_job_s is not None:
            t0 = self.failing.t_job_s
        elif self.failing is not None and self.moves:
            t0 = self.duration_s
        self.show(t0)
        self._player = threading.Thread(target=self._play_loop, daemon=True)
        self._player.start()

    # -- scene ------------------------------------------------------------------------
    def _on_connect(self, client: viser.ClientHandle) -> None:
        self.client_connected.set()

    def _add_shape(self, name: str, s: Shape, color: tuple[int, int, int],
                   opacity: float | None = None) -> viser.SceneNodeHandle:
        scene = self.server.scene
        pos, wxyz = s.pose[:3, 3], _wxyz(s.pose)
        if s.kind == "box":
            return scene.add_box(name, color=color, dimensions=s.dims, position=pos,
                                 wxyz=wxyz, opacity=opacity)
        if s.kind == "cylinder":
            return scene.add_cylinder(name, radius=s.dims[0], height=s.dims[1], color=color,
                                      position=pos, wxyz=wxyz, opacity=opacity)
        return scene.add_icosphere(name, radius=s.dims[0], color=color, position=pos,
                                   wxyz=wxyz, opacity=opacity)

    def _build_scene(self) -> None:
        scene = self.server.scene
        scene.set_up_direction("+z")
        self.server.initial_camera.position = (1.5, -1.4, 1.1)
        self.server.initial_camera.look_at = (0.35, 0.0, 0.15)
        scene.add_grid("/grid", width=2.0, height=2.0, cell_size=0.1, position=(0.2, 0, -0.041))
        for s in self.world.cell_shapes():
            wall = s.name.startswith("machine_")
            self._add_shape(f"/cell/{s.name}", s, _CELL_COLOR, 0.45 if wall else None)
        q0 = self.moves[0].trajectory.sample(np.zeros(1))[0][0] if self.moves else \
            self.job.start_q
        self.world.set_held_part(None)
        self._arm = {s.name: (self._add_shape(f"/arm/{s.name}", s, _ARM_COLOR), s.kind)
                     for s in self.world.robot_shapes(q0)}
        self._parts = {}
        for name in self.job.cell.parts:
            self.world.set_held_part(name)
            held = self.world.robot_shapes(q0)[-1]
            h = self._add_shape(f"/held/{name}", held, _PART_COLOR)
            h.visible = False
            self._parts[name] = h
        self._arm_color = _ARM_COLOR
        # TCP paths: every motion move in blue, the failing one in red
        fail_idx = self.failing.move_index if self.failing else -1
        for m in self.moves:
            if not m.kind.is_motion or m.duration_s <= 0.0:
                continue
            t = np.linspace(0.0, m.duration_s, max(2, int(m.duration_s / _PATH_DT_S) + 1))
            q = m.trajectory.sample(t)[0]
            p = np.array([self.job.arm.fk(qi)[:3, 3] for qi in q])
            seg = np.stack([p[:-1], p[1:]], axis=1)
            color = _FAIL_COLOR if m.index == fail_idx else (40, 110, 230)
            scene.add_line_segments(f"/paths/{m.index}_{m.name}", seg, color,
                                    thickness=0.004 if m.index == fail_idx else 0.002)
        if self.failing is not None and self.failing.tcp_pose is not None:
            scene.add_icosphere("/failure_point", radius=0.02, color=_FAIL_COLOR,
                                position=np.asarray(self.failing.tcp_pose[:3]))

    def _build_gui(self) -> None:
        gui = self.server.gui
        status = "PASSED" if self.report.passed else "FAILED"
        cycle = (f"{self.report.cycle_time_s:.2f} s" if self.report.cycle_time_s is not None
                 else "n/a (not fully planned)")
        gui.add_markdown(f"**Job** `{self.job.name}`: **{status}**, cycle time {cycle}")
        if self.failing is not None:
            gui.add_text("failing move", f"{self.failing.move_index}: {self.failing.move_name}",
                         disabled=True)
            gui.add_text("check", self.failing.check.value, disabled=True)
            gui.add_text("why", self.failing.reason, multiline=True, disabled=True)
        self.move_text = gui.add_text("move", "", disabled=True)
        self.slider = gui.add_slider("time [s]", min=0.0, max=max(self.duration_s, 1e-3),
                                     step=0.01, initial_value=0.0)
        self.play_button = gui.add_button("Play / pause")
        self.slider.on_update(lambda _: self.show(float(self.slider.value), from_slider=True))
        self.play_button.on_click(lambda _: self.toggle_play())

    # -- playback ---------------------------------------------------------------------
    def move_at(self, t_s: float) -> PlannedMove | None:
        """The move running at job time ``t_s`` [s] (the last one after the end)."""
        for m in self.moves:
            if t_s < m.t_start_s + m.duration_s:
                return m
        return self.moves[-1] if self.moves else None

    def show(self, t_s: float, *, from_slider: bool = False) -> None:
        """Put the arm where the job has it at ``t_s`` [s] and update the GUI."""
        with self._lock:
            if from_slider and t_s == self._t_shown:
                return
            self._t_shown = t_s
            move = self.move_at(t_s)
            if move is None:
                q, part, failing, name = self.job.start_q, None, False, "-"
            else:
                q = move.trajectory.sample(np.array([t_s - move.t_start_s]))[0][0]
                part = move.payload.part
                failing = any(r.index == move.index and r.status is MoveStatus.FAILED
                              for r in self.report.moves)
                name = f"{move.index}: {move.name} ({move.kind.value})" + (
                    " FAILED" if failing else "")
            self.world.set_held_part(part)
            shapes = self.world.robot_shapes(q)
            color = _FAIL_COLOR if failing else _ARM_COLOR
            for s in shapes:
                if s.name in self._arm:
                    handle, _ = self._arm[s.name]
                    handle.position, handle.wxyz = s.pose[:3, 3], _wxyz(s.pose)
                    if color != self._arm_color:
                        handle.color = color
            self._arm_color = color
            for pname, handle in self._parts.items():
                handle.visible = pname == part
                if pname == part:
                    handle.position, handle.wxyz = shapes[-1].pose[:3, 3], _wxyz(shapes[-1].pose)
            self.move_text.value = name
            if not from_slider:
                self._t_shown = float(min(max(t_s, 0.0), self.slider.max))
                self.slider.value = self._t_shown

    def toggle_play(self) -> None:
        """Start or pause the real-time playback."""
        if self._playing.is_set():
            self._playing.clear()
        else:
            self._playing.set()

    def _play_loop(self) -> None:
        period = 0.05
        while not self._closed.is_set():
            if not self._playing.wait(timeout=0.2):
                continue
            t = float(self.slider.value) + period
            if t > self.duration_s:
                t = 0.0
            self.show(t)
            time.sleep(period)

    def close(self) -> None:
        """Stop the playback thread and the server."""
        self._closed.set()
        self._playing.clear()
        self._player.join(timeout=1.0)
        self.server.stop()

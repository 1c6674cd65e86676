"""ZMP preview control of the cart-table model (pure numpy/scipy).

Reference: S. Kajita, F. Kanehiro, K. Kaneko, K. Fujiwara, K. Harada, K. Yokoi,
H. Hirukawa, "Biped Walking Pattern Generation by using Preview Control of Zero-Moment
Point", ICRA 2003; the optimal preview servo it uses is T. Katayama, T. Ohki, T. Inoue,
T. Kato, "Design of an optimal controller for a discrete-time system subject to previewable
demand", Int. J. Control 41(3), 1985.

The centre of mass (CoM) moves at a constant height ``z_c`` (linear inverted pendulum); per
horizontal axis the state is ``x = (c, c', c'')`` with the CoM jerk as input and the ZMP as
output (the "cart on a table")::

    x(k+1) = A x(k) + B u(k)      A = [[1, T, T^2/2], [0, 1, T], [0, 0, 1]]
    p(k)   = C x(k)               B = [T^3/6, T^2/2, T],  C = [1, 0, -z_c/g]

1. Incremental (servo) form: with ``e(k) = p(k) - p_ref(k)`` and ``X = (e, dx)`` where
   ``dx(k) = x(k) - x(k-1)``, ``du(k) = u(k) - u(k-1)``::

       X(k+1) = [[1, C A], [0, A]] X(k) + [C B; B] du(k) + [-1; 0] dp_ref(k+1)

   The cost ``sum q_e e^2 + r du^2`` puts an integral of the ZMP error into the loop: a
   constant offset of the reference is tracked without steady-state error.
2. ``P`` from the discrete algebraic Riccati equation of that system, state gain
   ``K = (r + B~' P B~)^-1 B~' P A~ = (G_i, G_x)``.
3. The known future reference enters as a disturbance; completing the square of the value
   function gives the preview gains ``G_d(j) = -(r + B~'PB~)^-1 B~' (A_c')^(j-1) P I~``,
   ``A_c = A~ - B~ K``, ``I~ = (1, 0, 0, 0)``, and the law::

       du(k) = -G_i e(k) - G_x dx(k) - sum_{j=1..N} G_d(j) (p_ref(k+j) - p_ref(k+j-1))

4. ``u(k) = u(k-1) + du(k)``; the state advances one period.

The law is applied in this incremental form rather than Kajita's summed one (``u = -G_i sum
e - G_x x - sum G_p p_ref``). The two are the same law when the walk starts at rest at the
origin; the summed form started elsewhere (or re-initialised mid-walk, e.g. at (3 m, 0))
carries a constant jerk bias ``(G_x[0] + sum G_p) * x0``, not zero for a truncated preview
(287 * x0 [m/s^3 per m] with Kajita's settings). The incremental form sees differences only,
so :meth:`PreviewController.reset` works anywhere.

Both horizontal axes share the gains and are stepped together as a (3, 2) state.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

#: Gravity [m/s^2] unless given.
GRAVITY_MPS2 = 9.81


class PreviewControlError(ValueError):
    """Bad preview controller settings or input (non-finite, wrong shape)."""


class PreviewController:
    """Cart-table ZMP preview servo (Kajita et al. ICRA 2003), x and y independent.

    ``step(window)`` takes the ZMP reference at the current sample and the ``n_preview``
    following ones (``window_length = n_preview + 1`` rows of (x, y)) and returns the CoM
    state one period later.
    """

    def __init__(self, dt: float = 0.005, z_c: float = 0.814, g: float = GRAVITY_MPS2,
                 q_e: float = 1.0, r: float = 1e-6, preview_s: float = 1.6) -> None:
        """Compute the gains (Riccati + preview); ``z_c`` CoM height [m], ``dt`` [s]."""
        for name, value in (("dt", dt), ("z_c", z_c), ("g", g), ("q_e", q_e), ("r", r),
                            ("preview_s", preview_s)):
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0.0):
                raise PreviewControlError(f"{name} must be a finite number > 0, got {value!r}")
        if preview_s < dt:
            raise PreviewControlError(f"preview_s {preview_s} shorter than one period {dt}")
        self.dt = float(dt)
        self.z_c = float(z_c)
        self.g = float(g)
        self.q_e = float(q_e)
        self.r = float(r)
        #: Number of future samples previewed (N).
        self.n_preview = int(round(preview_s / dt))
        #: Rows of the window ``step`` takes: the current sample and N future ones.
        self.window_length = self.n_preview + 1
        t = self.dt
        self.A = np.array([[1.0, t, t * t / 2.0], [0.0, 1.0, t], [0.0, 0.0, 1.0]])
        self.B = np.array([t ** 3 / 6.0, t * t / 2.0, t])
        self.C = np.array([1.0, 0.0, -self.z_c / self.g])
        self.gain_i, self.gain_x, self.gain_preview = self._gains()
        self._state_map, self._window_map = self._step_maps()
        # Stacked per axis (columns x, y): rows 0-2 the state x(k), 3-5 x(k-1), 6 u(k-1).
        self._s = np.zeros((7, 2))

    def _gains(self) -> tuple[float, np.ndarray, np.ndarray]:
        """Integral gain G_i, state gain G_x (3,) and preview gains G_d(1..N) (steps 1-3)."""
        a_t = np.zeros((4, 4))
        a_t[0, 0] = 1.0
        a_t[0, 1:] = self.C @ self.A
        a_t[1:, 1:] = self.A
        b_t = np.concatenate(([self.C @ self.B], self.B)).reshape(4, 1)
        q_t = np.zeros((4, 4))
        q_t[0, 0] = self.q_e
        r_t = np.array([[self.r]])
        try:
            p = scipy.linalg.solve_discrete_are(a_t, b_t, q_t, r_t)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise PreviewControlError(f"Riccati equation has no solution: {exc}") from exc
        s_inv = 1.0 / (self.r + float((b_t.T @ p @ b_t)[0, 0]))
        k = s_inv * (b_t.T @ p @ a_t).ravel()
        a_c = a_t - b_t @ k.reshape(1, 4)
        gd = np.empty(self.n_preview)
        x = p[:, 0].copy()                    # (A_c')^(j-1) P I~, j = 1
        bt = b_t.ravel()
        for j in range(self.n_preview):
            gd[j] = -s_inv * float(bt @ x)
            x = a_c.T @ x
        if not (np.isfinite(k).all() and np.isfinite(gd).all()):
            raise PreviewControlError("non-finite preview gains")
        return float(k[0]), k[1:].copy(), gd

    def _step_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """Steps 3-4 as one linear map per axis: ``out = F s + G window``.

        ``s = (x(k), x(k-1), u(k-1))``; ``out = (x(k+1), x(k), u(k), p(k+1))``. With
        ``u(k) = u(k-1) - G_i (C x(k) - p_ref(k)) - G_x (x(k) - x(k-1)) - w . window`` where
        ``w . window = sum_j G_d(j) (p_ref(k+j) - p_ref(k+j-1))``. Two small matrix products
        per period keep a step within tens of microseconds in numpy.
        """
        gd = self.gain_preview
        w = np.zeros(self.window_length)
        w[1:] += gd
        w[:-1] -= gd
        u_x = -self.gain_i * self.C - self.gain_x          # u(k) row, on x(k)
        u_s = np.concatenate((u_x, self.gain_x, [1.0]))    # on s
        u_w = -w
        u_w[0] += self.gain_i                              # on the window
        f = np.zeros((8, 7))
        g = np.zeros((8, self.window_length))
        f[0:3, 0:3] = self.A
        f[0:3] += np.outer(self.B, u_s)
        g[0:3] = np.outer(self.B, u_w)
        f[3:6, 0:3] = np.eye(3)
        f[6] = u_s
        g[6] = u_w
        f[7] = self.C @ f[0:3]
        g[7] = self.C @ g[0:3]
        return f, g

    def reset(self, com_xy: np.ndarray | tuple[float, float],
              vel: np.ndarray | tuple[float, float] = (0.0, 0.0),
              acc: np.ndarray | tuple[float, float] = (0.0, 0.0)) -> None:
        """Set the CoM state (x, y position [m], velocity [m/s], acceleration [m/s^2]).

        The jerk before now is taken as zero, so the previous state is ``A^-1 x``.
        """
        x = np.array([np.asarray(com_xy, dtype=float), np.asarray(vel, dtype=float),
                      np.asarray(acc, dtype=float)])
        if x.shape != (3, 2) or not np.isfinite(x).all():
            raise PreviewControlError(f"reset needs finite (x, y) pairs, got {x.tolist()}")
        self._s = np.vstack([x, np.linalg.solve(self.A, x), np.zeros((1, 2))])

    @property
    def state(self) -> np.ndarray:
        """The CoM state (3, 2): rows position, velocity, acceleration; columns x, y."""
        return self._s[:3].copy()

    @property
    def zmp(self) -> np.ndarray:
        """The model's ZMP (x, y) [m] of the current state."""
        return self.C @ self._s[:3]

    def step(self, zmp_ref_window: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Advance one period; return CoM position, velocity, acceleration and model ZMP.

        ``zmp_ref_window``: (``window_length``, 2) or longer; row 0 is the reference at the
        current sample, row j the one j periods ahead. The returned state is one period
        later. A short or non-finite window raises :class:`PreviewControlError` and leaves
        the state as it was.
        """
        w = np.asarray(zmp_ref_window, dtype=float)
        n = self.window_length
        if w.ndim != 2 or w.shape[1] != 2 or w.shape[0] < n:
            raise PreviewControlError(
                f"ZMP reference window must be ({n}, 2) or longer, got {w.shape}")
        w = w[:n]
        out = self._state_map @ self._s + self._window_map @ w
        if not np.isfinite(out).all():
            raise PreviewControlError("non-finite ZMP reference or state")
        self._s = out[:7].copy()
        return out[0], out[1], out[2], out[7]

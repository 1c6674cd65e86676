"""A small 3-DOF twin-thruster boat for closed-loop tests of the USV controllers.

dg_autonomy must not depend on the simulator (colcon tests packages one by one), so the
tests carry their own plant: Fossen's surge/sway/yaw model with the VRX WAM-V coefficients
(mass 180 kg, Izz 446, X_u 51.3, X_uu 72.4, Y_v 40, N_r 400; no added mass), rigid-body
Coriolis, relative-velocity damping with a constant current, saturated thrusters with a
first-order lag, and a constant environmental force in the map frame. Integration: RK4.
"""

import math

import numpy as np

MASS, IZZ, XU, XUU, YV, NR = 180.0, 446.0, 51.3, 72.4, 40.0, 400.0
Y_THR, FWD, REV, LAG = 1.027135, 2353.5, 1000.0, 0.2


class Boat:
    """State (x, y, psi, u, v, r); ``step`` applies left/right thrust commands [N]."""

    def __init__(self, x=0.0, y=0.0, psi=0.0, u=0.0, v=0.0, r=0.0, force_map_n=(0.0, 0.0),
                 current_mps=(0.0, 0.0), fwd_n=FWD, rev_n=REV):
        self.s = np.array([x, y, psi, u, v, r], dtype=float)
        self.force = np.asarray(force_map_n, dtype=float)
        self.current = np.asarray(current_mps, dtype=float)
        self.fwd, self.rev = fwd_n, rev_n
        self.thrust = np.zeros(2)

    @property
    def x(self):
        return self.s[0]

    @property
    def y(self):
        return self.s[1]

    @property
    def psi(self):
        return self.s[2]

    @property
    def u(self):
        return self.s[3]

    @property
    def v(self):
        return self.s[4]

    @property
    def r(self):
        return self.s[5]

    def _deriv(self, s, tx, tn):
        _, _, psi, u, v, r = s
        c, sn = math.cos(psi), math.sin(psi)
        uc = c * self.current[0] + sn * self.current[1]
        vc = -sn * self.current[0] + c * self.current[1]
        ur, vr = u - uc, v - vc
        fx = c * self.force[0] + sn * self.force[1]
        fy = -sn * self.force[0] + c * self.force[1]
        du = (tx + fx + MASS * vr * r - (XU + XUU * abs(ur)) * ur) / MASS
        dv = (fy - MASS * ur * r - YV * vr) / MASS
        dr = (tn - NR * r) / IZZ
        return np.array([c * u - sn * v, sn * u + c * v, r, du + r * vc, dv - r * uc, dr])

    def step(self, left_n, right_n, dt):
        cmd = np.clip([left_n, right_n], -self.rev, self.fwd)
        self.thrust += (1.0 - math.exp(-dt / LAG)) * (cmd - self.thrust)
        tx = float(self.thrust.sum())
        tn = Y_THR * float(self.thrust[1] - self.thrust[0])
        s = self.s
        k1 = self._deriv(s, tx, tn)
        k2 = self._deriv(s + 0.5 * dt * k1, tx, tn)
        k3 = self._deriv(s + 0.5 * dt * k2, tx, tn)
        k4 = self._deriv(s + dt * k3, tx, tn)
        self.s = s + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        self.s[2] = math.remainder(self.s[2], 2.0 * math.pi)
        return tx, tn

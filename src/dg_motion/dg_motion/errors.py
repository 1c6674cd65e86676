"""The one error type of dg_motion's cores for bad user input."""


class MotionInputError(ValueError):
    """A robot model, limits file, trajectory, job or goal is unusable; the message says why.

    Cores raise it for bad input (non-finite values, wrong joint names, limits violated,
    malformed files); command-line tools turn it into exit code 2 with a one-line reason,
    nodes into a rejected goal with that reason.
    """

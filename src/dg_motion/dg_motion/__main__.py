"""``python -m dg_motion``: the ``dg motion`` command line (dg_motion.cli)."""

from dg_motion.cli import main

raise SystemExit(main(prog="python -m dg_motion"))

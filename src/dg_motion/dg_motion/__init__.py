"""dg_motion: the motion-control core for industrial arms (and humanoids), nodes in nodes/."""

"""Coverage path planning and sampling plans."""

"""The one error type of the vision core: bad input, said clearly.

Nodes turn it into a rejected message plus a diagnostic, the CLI into a message and exit
code 2.
"""


class VisionInputError(ValueError):
    """An image, point cloud, recipe or model that the vision core cannot use, and why."""

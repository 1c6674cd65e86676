"""The one exception the launch runner raises for mistakes in launch files or arguments."""


class LaunchError(Exception):
    """A user error: bad launch file, unsupported tag/attribute/substitution, missing argument.

    The message names the file (and line) and the offending tag or attribute; the ``dg`` command
    prints it and exits with status 2.
    """

"""DG Stack bring-up: the ``dg`` command, its launch runner, demos and tools."""

"""Inspection recipes: a YAML list of measuring steps with ROIs and tolerances -> a verdict.

A recipe chains the tools of :mod:`dg_vision.metrology` (2D), :mod:`dg_vision.anomaly`
(PatchCore) and :mod:`dg_vision.inspect3d` (3D) the way HALCON-style recipes do on a line:

* every step has a ``name`` and a ``type`` (see :data:`TOOL_TYPES`), its geometry in pixels
  of the *reference image* (the image the recipe was drawn on), tool parameters, and
  tolerances;
* a step with ``fixture: <shape_match step>`` follows the part: its ROI is moved by the pose
  at which that step found the part (translation, rotation, scale), so parts that lie a
  little off on the conveyor are measured at the right place, and positions are reported
  in the part's (reference) frame;
* lengths come out in ``units.length`` (``px`` or ``mm``; mm need ``units.mm_per_px`` or
  ``units.working_distance_mm`` with the camera's focal length, e.g. from ``camera_info``);
  3D steps measure in mm (clouds are in mm in the core).

:func:`load_recipe` validates everything once (a wrong field is a
:class:`~dg_vision.errors.VisionInputError` naming the step and the field) and prepares the
tools (teaches shape models, loads anomaly models and CAD meshes). :meth:`Recipe.run`
inspects one part: it returns every measurement, never raising for a feature it cannot find
(value NaN, ``ok`` False, ``message`` says why), plus an annotated BGR overlay and
vision_msgs-style detections. The file format is documented in the package README and in
``config/example_board.yaml``.

Modules, one concept each:

* :mod:`~dg_vision.recipe.loading`: :func:`load_recipe`, reading and validating a recipe;
* :mod:`~dg_vision.recipe.fields`: parsers of single field values;
* :mod:`~dg_vision.recipe.schema`: the validated :class:`Step` and :class:`Units`;
* :mod:`~dg_vision.recipe.tolerance`: :class:`Tolerance` and :func:`parse_tolerance`;
* :mod:`~dg_vision.recipe.tools`: the registry :data:`TOOLS` of step types, with the tools
  themselves in :mod:`~dg_vision.recipe.tools2d` and :mod:`~dg_vision.recipe.tools3d`;
* :mod:`~dg_vision.recipe.geometry`: fixture transforms (:func:`fixture_transform`);
* :mod:`~dg_vision.recipe.context`: the state the steps of one run share;
* :mod:`~dg_vision.recipe.runner`: :class:`Recipe` and its run over one part;
* :mod:`~dg_vision.recipe.results`: :class:`Measured`, :class:`Detection`,
  :class:`InspectionOutcome`;
* :mod:`~dg_vision.recipe.annotate`: the annotated overlay.
"""

from dg_vision.recipe.fields import REQUIRED
from dg_vision.recipe.geometry import fixture_transform
from dg_vision.recipe.loading import load_recipe
from dg_vision.recipe.results import Detection, InspectionOutcome, Measured
from dg_vision.recipe.runner import Recipe, as_points
from dg_vision.recipe.schema import Step, Units
from dg_vision.recipe.tolerance import Tolerance, parse_tolerance
from dg_vision.recipe.tools import TOOL_TYPES, TOOLS

__all__ = [
    "REQUIRED", "TOOLS", "TOOL_TYPES", "Detection", "InspectionOutcome", "Measured", "Recipe",
    "Step", "Tolerance", "Units", "as_points", "fixture_transform", "load_recipe",
    "parse_tolerance",
]

"""2D metrology and matching (no rclpy).

Calipers, robust fitting, blobs, shape matching, camera and hand-eye calibration, code
reading.

Conventions of every tool here: coordinates in pixels with the pixel centres at integer
coordinates, x to the right and y down; angles in degrees, positive counter-clockwise as
seen on screen (as ``cv2.getRotationMatrix2D``); images are whatever
:func:`dg_vision.image.as_image` accepts; bad input raises
:class:`dg_vision.errors.VisionInputError`.
"""

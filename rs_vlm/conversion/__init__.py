"""Annotation-to-caption conversion: readers, Box-to-Caption, Mask-to-Box, dedup, corpus writers.

Light to import (numpy, scipy, OpenCV, Pillow): no torch.
"""

from .annotated_image import AnnotatedImage, corners_to_boxes
from .box_to_caption import (
    DEFAULT_B2C_CONFIG,
    B2CConfig,
    boxes_to_captions,
    boxes_to_captions_batch,
    normalise_class_name,
    pluralise,
)

__all__ = [
    'DEFAULT_B2C_CONFIG',
    'AnnotatedImage',
    'B2CConfig',
    'boxes_to_captions',
    'boxes_to_captions_batch',
    'corners_to_boxes',
    'normalise_class_name',
    'pluralise',
]

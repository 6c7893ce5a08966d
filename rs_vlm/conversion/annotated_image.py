"""The record every annotation reader yields: one image, its size and its labelled boxes."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ['AnnotatedImage', 'corners_to_boxes']


@dataclass
class AnnotatedImage:
    """One annotated image as read from a detection or segmentation annotation.

    Attributes:
        path: The image file (absolute, or as written in the annotation).
        width: Image width in pixels.
        height: Image height in pixels.
        boxes: Horizontal boxes, float array ``[N, 4]`` of ``xmin, ymin, xmax, ymax`` pixels,
            clipped to the image; degenerate boxes are already dropped by the readers.
        labels: Class name of each box (as written in the annotation, before B2C's
            normalisation), ``len(labels) == N``.
        oriented: Oriented boxes as corner arrays ``[N, 4, 2]`` (x, y) in annotation order when
            the format has them (DOTA, DIOR ``robndbox``, HRSC ``mbox``), else None.
        dropped: Why boxes were dropped while reading, e.g. ``{'degenerate box': 2}``.
        source: The annotation file this record came from.
    """

    path: str
    width: int
    height: int
    boxes: np.ndarray
    labels: list[str]
    oriented: np.ndarray | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    source: str = ''

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        if len(self.labels) != len(self.boxes):
            raise ValueError(
                f'{len(self.boxes)} boxes but {len(self.labels)} labels for {self.path}'
            )

    @property
    def name(self) -> str:
        """The image file name without folders."""
        return Path(self.path).name


def corners_to_boxes(corners: np.ndarray) -> np.ndarray:
    """Convert oriented boxes given by corners to horizontal boxes (min/max of the corners).

    Args:
        corners: Float array ``[N, K, 2]`` of (x, y) corners (K = 4 for quadrilaterals).

    Returns:
        Float array ``[N, 4]`` of ``xmin, ymin, xmax, ymax`` (not clipped).
    """
    corners = np.asarray(corners, dtype=np.float64)
    if len(corners) == 0:
        return np.zeros((0, 4))
    corners = corners.reshape(len(corners), -1, 2)
    return np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)

"""Random resized crop boxes drawn over the whole image (training images, decoded in workers).

torchvision's ``RandomResizedCrop`` (open_clip's training crop, which RemoteCLIP used) draws an
area fraction in ``scale`` and a log-uniform aspect ratio in ``ratio``, tries 10 times to fit
such a box in the image and otherwise falls back to a *centre* crop clamped to ``ratio``. On a
wide frame (a 16:9 UAV image) with open_clip's ``scale=(0.9, 1.0)`` no box fits, so every crop
is the same centre 75% of the width, and objects at the edges are never seen although the
captions count them. Here boxes that fit are drawn as torchvision draws them, and the fallback
box (the largest box of an allowed aspect ratio inside the image) is placed at a uniformly
random position, so every pixel can be seen.

Draws come from a ``numpy.random.Generator`` the caller seeds (the caption corpora use
``(seed, epoch, index)``), so a crop does not depend on the worker that decodes the image and
replays exactly after a resume.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ['CropBox', 'CropSampler', 'RandomResizedCropBox']

#: ``(left, top, width, height)`` in pixels of the full-resolution image.
CropBox = tuple[int, int, int, int]

#: ``(image width, image height) -> box``: what the image decoders call to crop.
CropSampler = Callable[[int, int], CropBox]


@dataclass(frozen=True)
class RandomResizedCropBox:
    """Draws random resized crop boxes over a whole image (see the module docstring).

    Args:
        scale: Range of the box area as a fraction of the image area.
        ratio: Range of the box aspect ratio (width / height).
        attempts: Draws tried before the fallback box.
    """

    scale: tuple[float, float] = (0.9, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    attempts: int = 10

    def __post_init__(self) -> None:
        low, high = self.scale
        if not 0 < low <= high <= 1:
            raise ValueError(f'scale must satisfy 0 < low <= high <= 1, got {self.scale}')
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f'ratio must satisfy 0 < low <= high, got {self.ratio}')

    def __call__(self, width: int, height: int, rng: np.random.Generator) -> CropBox:
        """Draw one box for an image of ``width x height`` pixels.

        Args:
            width: Image width.
            height: Image height.
            rng: The random generator to draw from.

        Returns:
            ``(left, top, box width, box height)``, inside the image.
        """
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(self.attempts):
            area = width * height * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            box_width = round(math.sqrt(area * aspect))
            box_height = round(math.sqrt(area / aspect))
            if 0 < box_width <= width and 0 < box_height <= height:
                return self._place(width, height, box_width, box_height, rng)
        # No box of the requested area fits: the largest box of an allowed aspect ratio,
        # at a random position (torchvision centres it, which hides the image's edges).
        aspect = width / height
        if aspect < self.ratio[0]:
            box_width, box_height = width, max(1, min(height, round(width / self.ratio[0])))
        elif aspect > self.ratio[1]:
            box_width, box_height = max(1, min(width, round(height * self.ratio[1]))), height
        else:
            box_width, box_height = width, height
        return self._place(width, height, box_width, box_height, rng)

    @staticmethod
    def _place(
        width: int, height: int, box_width: int, box_height: int, rng: np.random.Generator
    ) -> CropBox:
        left = int(rng.integers(0, width - box_width + 1))
        top = int(rng.integers(0, height - box_height + 1))
        return left, top, box_width, box_height

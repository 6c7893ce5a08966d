"""EuroSAT from its RGB JPEG release (the paper's input) or its 13-band TIFFs; paper split."""

import logging
from pathlib import Path
from typing import ClassVar, Literal

from torchgeo.datasets import EuroSAT as TorchgeoDataset

from rs_vlm.datasets.scene_dataset import (
    SceneDataset,
    scan_image_files,
    torchgeo_or_release_files,
)
from rs_vlm.io.decoding import SENTINEL2_TRUE_COLOUR_DN, TIFF_SUFFIXES

__all__ = ['EuroSATRGB']

logger = logging.getLogger('rs_vlm.datasets')

JPEG_SUFFIXES = frozenset({'.jpg', '.jpeg'})


class EuroSATRGB(SceneDataset):
    """EuroSAT (Helber et al. 2019): 27,000 Sentinel-2 patches of 64 x 64 px in 10 classes.

    Two inputs, chosen by what is under ``root``:

    * **RGB JPEG release** (``EuroSAT.zip``: ``EuroSAT/2750/<Class>/<Class>_N.jpg``), the input
      ITRA, and so the RemoteCLIP paper, evaluated on. Read whenever JPEGs are under ``root``.
    * **13-band TIFF release** as torchgeo lays it out (``download=True`` fetches it): a
      different input, whose numbers are not comparable with the paper's. Bands B04, B03, B02
      are shown with one fixed scaling for every image, DN x 255 / 4,000 clipped (reflectance
      x 2.5, Sentinel Hub's standard true colour), never with per-image statistics.

    The split is the paper's (see :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`).

    Attributes:
        input_kind: ``'rgb-jpeg'`` or ``'sentinel2-13band'``, the input that was found.
    """

    name: ClassVar[str] = 'eurosat'
    manual: ClassVar[str] = (
        'unpack the RGB release EuroSAT.zip (https://github.com/phelber/EuroSAT) so that '
        'EuroSAT/2750/<Class>/<Class>_N.jpg is under root'
    )
    input_kind: Literal['rgb-jpeg', 'sentinel2-13band'] = 'rgb-jpeg'

    def list_files(self) -> list[Path]:
        """The JPEG release's files when present, else the 13-band TIFFs (torchgeo's layout)."""
        jpegs = scan_image_files(self.root, JPEG_SUFFIXES)
        if jpegs:
            self.input_kind = 'rgb-jpeg'
            return jpegs
        files = torchgeo_or_release_files(self, TorchgeoDataset, TIFF_SUFFIXES)
        self.input_kind = 'sentinel2-13band'
        logger.warning(
            'EuroSAT under %s: reading the 13-band TIFF release (B04, B03, B02, DN x 255 / %d), '
            'a different input from the RGB JPEG release the paper used',
            self.root,
            SENTINEL2_TRUE_COLOUR_DN,
        )
        return files

"""NWPU-RESISC45 through torchgeo's ``RESISC45`` or its release layout, paper split."""

from pathlib import Path
from typing import ClassVar

from torchgeo.datasets import RESISC45 as TorchgeoDataset

from rs_vlm.datasets.scene_dataset import SceneDataset, torchgeo_or_release_files

__all__ = ['RESISC45']


class RESISC45(SceneDataset):
    """NWPU-RESISC45 (Cheng et al. 2017): 31,500 images of 256 x 256 px in 45 classes.

    Layouts under ``root``: the release as unpacked, ``NWPU-RESISC45/<class>/<class>_NNN.jpg``,
    or torchgeo's copy of it (the same folders plus torchgeo's split files; ``download=True``
    fetches it and ``checksum=True`` verifies it). The split is the paper's (see
    :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`), not torchgeo's.
    """

    name: ClassVar[str] = 'resisc45'
    manual: ClassVar[str] = (
        'unpack NWPU-RESISC45 from https://gcheng-nwpu.github.io/#Datasets under root'
    )

    def list_files(self) -> list[Path]:
        """All image files: torchgeo's layout when present (or downloading), else the release."""
        return torchgeo_or_release_files(self, TorchgeoDataset)

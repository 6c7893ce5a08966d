"""NWPU-RESISC45 through torchgeo's ``RESISC45`` (files, download, checksums), paper split."""

from pathlib import Path
from typing import ClassVar

from torchgeo.datasets import RESISC45 as TorchgeoDataset

from rs_vlm.datasets.scene_dataset import SceneDataset, torchgeo_files

__all__ = ['RESISC45']


class RESISC45(SceneDataset):
    """NWPU-RESISC45 (Cheng et al. 2017): 31,500 images of 256 x 256 px in 45 classes.

    torchgeo's ``RESISC45`` finds (and with ``download=True`` fetches and checks) the files, in
    torchgeo's folder layout under ``root``; the split is the paper's (see
    :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`), not torchgeo's.
    """

    name: ClassVar[str] = 'resisc45'

    def list_files(self) -> list[Path]:
        """All image files, as listed by torchgeo over all of its splits."""
        return torchgeo_files(TorchgeoDataset, self.root, self.download, self.checksum)

"""UC Merced Land Use through torchgeo's ``UCMerced`` (files, download, checksums), paper split."""

from pathlib import Path
from typing import ClassVar

from torchgeo.datasets import UCMerced as TorchgeoDataset

from rs_vlm.datasets.scene_dataset import SceneDataset, torchgeo_files

__all__ = ['UCMerced']


class UCMerced(SceneDataset):
    """UC Merced Land Use (Yang and Newsam 2010): 2,100 images of 256 x 256 px in 21 classes.

    torchgeo's ``UCMerced`` finds (and with ``download=True`` fetches and checks) the files, in
    torchgeo's folder layout under ``root``; the split is the paper's (see
    :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`), not torchgeo's.
    """

    name: ClassVar[str] = 'ucmerced'

    def list_files(self) -> list[Path]:
        """All image files, as listed by torchgeo over all of its splits."""
        return torchgeo_files(TorchgeoDataset, self.root, self.download, self.checksum)

"""PatternNet through torchgeo's ``PatternNet`` (files, download, checksums), paper split."""

from pathlib import Path
from typing import ClassVar

from torchgeo.datasets import PatternNet as TorchgeoDataset

from rs_vlm.datasets.scene_dataset import SceneDataset, torchgeo_files

__all__ = ['PatternNet']


class PatternNet(SceneDataset):
    """PatternNet (Zhou et al. 2018): 30,400 images of 256 x 256 px in 38 classes.

    torchgeo's ``PatternNet`` finds (and with ``download=True`` fetches and checks) the files, in
    torchgeo's folder layout under ``root``; the split is the paper's (see
    :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`), not torchgeo's.
    """

    name: ClassVar[str] = 'patternnet'

    def list_files(self) -> list[Path]:
        """All image files, as listed by torchgeo over all of its splits."""
        return torchgeo_files(TorchgeoDataset, self.root, self.download, self.checksum)

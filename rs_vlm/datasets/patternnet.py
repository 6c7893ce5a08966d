"""PatternNet through torchgeo's ``PatternNet`` or its release layout, paper split."""

from pathlib import Path
from typing import ClassVar

from torchgeo.datasets import PatternNet as TorchgeoDataset

from rs_vlm.datasets.scene_dataset import SceneDataset, torchgeo_or_release_files

__all__ = ['PatternNet']


class PatternNet(SceneDataset):
    """PatternNet (Zhou et al. 2018): 30,400 images of 256 x 256 px in 38 classes.

    Layouts under ``root``: the release as unpacked,
    ``PatternNet/images/<class>/<class>NNN.jpg``, or torchgeo's copy of it (the same folders
    plus torchgeo's split files; ``download=True`` fetches it and ``checksum=True`` verifies
    it). The split is the paper's (see
    :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`), not torchgeo's.
    """

    name: ClassVar[str] = 'patternnet'
    manual: ClassVar[str] = (
        'unpack PatternNet.zip from https://sites.google.com/view/zhouwx/dataset under root'
    )

    def list_files(self) -> list[Path]:
        """All image files: torchgeo's layout when present (or downloading), else the release."""
        return torchgeo_or_release_files(self, TorchgeoDataset)

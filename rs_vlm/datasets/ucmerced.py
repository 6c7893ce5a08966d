"""UC Merced Land Use through torchgeo's ``UCMerced`` or its release layout, paper split."""

from pathlib import Path
from typing import ClassVar

from torchgeo.datasets import UCMerced as TorchgeoDataset

from rs_vlm.datasets.scene_dataset import SceneDataset, torchgeo_or_release_files

__all__ = ['UCMerced']


class UCMerced(SceneDataset):
    """UC Merced Land Use (Yang and Newsam 2010): 2,100 images of 256 x 256 px in 21 classes.

    Layouts under ``root``: the release as unpacked,
    ``UCMerced_LandUse/Images/<class>/<class>NN.tif``, or torchgeo's copy of it (the same
    folders plus torchgeo's split files; ``download=True`` fetches it and ``checksum=True``
    verifies it). The split is the paper's (see
    :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`), not torchgeo's.
    """

    name: ClassVar[str] = 'ucmerced'
    manual: ClassVar[str] = (
        'unpack UCMerced_LandUse.zip from http://weegee.vision.ucmerced.edu/datasets/landuse.html'
        ' under root'
    )

    def list_files(self) -> list[Path]:
        """All image files: torchgeo's layout when present (or downloading), else the release."""
        return torchgeo_or_release_files(self, TorchgeoDataset)

"""EuroSAT through torchgeo's ``EuroSAT`` (files, download, checksums), paper split."""

from pathlib import Path
from typing import ClassVar

from torchgeo.datasets import EuroSAT as TorchgeoDataset

from rs_vlm.datasets.scene_dataset import SceneDataset, torchgeo_files

__all__ = ['EuroSATRGB']


class EuroSATRGB(SceneDataset):
    """EuroSAT (Helber et al. 2019) as RGB: 27,000 Sentinel-2 patches of 64 x 64 px in 10 classes.

    torchgeo's ``EuroSAT`` finds (and with ``download=True`` fetches and checks) the files, in
    torchgeo's folder layout under ``root``; the split is the paper's (see
    :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`), not torchgeo's.

    torchgeo's EuroSAT is 13-band; images are read as bands B04, B03, B02 with a 2-98% stretch
    (see :mod:`rs_vlm.io.decoding`), the RGB view CLIP papers use.
    """

    name: ClassVar[str] = 'eurosat'

    def list_files(self) -> list[Path]:
        """All image files, as listed by torchgeo over all of its splits."""
        return torchgeo_files(TorchgeoDataset, self.root, self.download, self.checksum)

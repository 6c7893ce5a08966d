"""The OPTIMAL31 scene classification dataset."""

from typing import ClassVar

from rs_vlm.datasets.scene_dataset import SceneDataset

__all__ = ['OPTIMAL31']


class OPTIMAL31(SceneDataset):
    """OPTIMAL-31 (Wang et al. 2018): 1,860 images of 256 x 256 px in 31 classes.

    Layout: class folders anywhere below ``root`` (``root/<class>/<image>``). Class names,
    templates and the paper split: see :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`.
    """

    name: ClassVar[str] = 'optimal31'
    manual: ClassVar[str] = 'Unpack OPTIMAL-31 under root.'

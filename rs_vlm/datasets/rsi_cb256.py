"""The RSICB256 scene classification dataset."""

from typing import ClassVar

from rs_vlm.datasets.scene_dataset import SceneDataset

__all__ = ['RSICB256']


class RSICB256(SceneDataset):
    """RSI-CB256 (Li et al. 2017): about 24,000 images of 256 x 256 px in 35 classes.

    Layout: class folders anywhere below ``root`` (``root/<class>/<image>``). Class names,
    templates and the paper split: see :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`.
    """

    name: ClassVar[str] = 'rsicb256'
    manual: ClassVar[str] = (
        'Unpack RSI-CB256 (https://github.com/lehaifeng/RSI-CB) under root; '
        'nested category folders are fine.'
    )

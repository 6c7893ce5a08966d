"""The RSICB128 scene classification dataset."""

from typing import ClassVar

from rs_vlm.datasets.scene_dataset import SceneDataset

__all__ = ['RSICB128']


class RSICB128(SceneDataset):
    """RSI-CB128 (Li et al. 2017): about 36,000 images of 128 x 128 px in 45 classes.

    Layout: class folders anywhere below ``root`` (``root/<class>/<image>``). Class names,
    templates and the paper split: see :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`.
    """

    name: ClassVar[str] = 'rsicb128'
    manual: ClassVar[str] = (
        'Unpack RSI-CB128 (https://github.com/lehaifeng/RSI-CB) under root; '
        'nested category folders are fine.'
    )

"""The AID scene classification dataset."""

from typing import ClassVar

from rs_vlm.datasets.scene_dataset import SceneDataset

__all__ = ['AID']


class AID(SceneDataset):
    """AID (Xia et al. 2017): 10,000 aerial images of 600 x 600 px in 30 classes.

    Layout: class folders anywhere below ``root`` (``root/<class>/<image>``). Class names,
    templates and the paper split: see :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`.
    """

    name: ClassVar[str] = 'aid'
    manual: ClassVar[str] = (
        'Download AID from https://captain-whu.github.io/AID/ and unpack it under root.'
    )

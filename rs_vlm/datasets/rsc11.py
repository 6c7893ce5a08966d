"""The RSC11 scene classification dataset."""

from typing import ClassVar

from rs_vlm.datasets.scene_dataset import SceneDataset

__all__ = ['RSC11']


class RSC11(SceneDataset):
    """RSC11 (Zhao et al. 2016): 1,232 images of 512 x 512 px in 11 classes.

    Layout: class folders anywhere below ``root`` (``root/<class>/<image>``). Class names,
    templates and the paper split: see :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`.
    """

    name: ClassVar[str] = 'rsc11'
    manual: ClassVar[str] = 'Unpack RSC11 under root.'

"""The SIRIWHU scene classification dataset."""

from typing import ClassVar

from rs_vlm.datasets.scene_dataset import SceneDataset

__all__ = ['SIRIWHU']


class SIRIWHU(SceneDataset):
    """SIRI-WHU Google, 12class_tif (WHU-earth in RemoteCLIP): 2,400 images of 200 x 200 px.

    Layout: class folders anywhere below ``root`` (``root/<class>/<image>``). Class names,
    templates and the paper split: see :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`.
    """

    name: ClassVar[str] = 'siriwhu'
    manual: ClassVar[str] = 'Unpack SIRI-WHU (12class_tif) under root.'

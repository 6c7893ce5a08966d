"""The RSSCN7 scene classification dataset."""

from typing import ClassVar

from rs_vlm.datasets.scene_dataset import SceneDataset

__all__ = ['RSSCN7']


class RSSCN7(SceneDataset):
    """RSSCN7 (Zou et al. 2015; RS2800 in RemoteCLIP): 2,800 images of 400 x 400 px, 7 classes.

    Layout: class folders anywhere below ``root`` (``root/<class>/<image>``). Class names,
    templates and the paper split: see :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`.
    """

    name: ClassVar[str] = 'rsscn7'
    manual: ClassVar[str] = 'Unpack RSSCN7 (https://github.com/palewithout/RSSCN7) under root.'

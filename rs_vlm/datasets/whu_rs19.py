"""The WHURS19 scene classification dataset."""

from typing import ClassVar

from rs_vlm.datasets.scene_dataset import SceneDataset

__all__ = ['WHURS19']


class WHURS19(SceneDataset):
    """WHU-RS19 (Dai and Yang 2010): 1,005 images of 600 x 600 px in 19 classes.

    Layout: class folders anywhere below ``root`` (``root/<class>/<image>``). Class names,
    templates and the paper split: see :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`.
    """

    name: ClassVar[str] = 'whurs19'
    manual: ClassVar[str] = (
        'Unpack WHU-RS19 (e.g. from https://captain-whu.github.io/BED4RS/) under root.'
    )

"""The MLRSNet scene classification dataset."""

from typing import ClassVar

from rs_vlm.datasets.scene_dataset import SceneDataset

__all__ = ['MLRSNet']


class MLRSNet(SceneDataset):
    """MLRSNet (Qi et al. 2020): 109,161 images of 256 x 256 px in 46 scene categories.

    Layout: class folders anywhere below ``root`` (``root/<class>/<image>``). Class names,
    templates and the paper split: see :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`.
    """

    name: ClassVar[str] = 'mlrsnet'
    manual: ClassVar[str] = (
        'Unpack the MLRSNet Images folder (https://github.com/cugbrs/MLRSNet) under root.'
    )

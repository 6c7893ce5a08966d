"""The embedded synthetic aerial world of the demo and the tests: renderer, dataset, datamodule.

:mod:`~rs_vlm.synthetic.shapes` and :mod:`~rs_vlm.synthetic.ground` draw objects and ground
textures, :mod:`~rs_vlm.synthetic.render` composes a scene, :mod:`~rs_vlm.synthetic.aerial` is
the :class:`SyntheticAerial` dataset (captions written by the real Mask-to-Box and Box-to-Caption
converters) and :mod:`~rs_vlm.synthetic.datamodule` its caption datamodule.
"""

from rs_vlm.synthetic.aerial import SyntheticAerial
from rs_vlm.synthetic.datamodule import SyntheticAerialDataModule

__all__ = ['SyntheticAerial', 'SyntheticAerialDataModule']

"""The embedded synthetic aerial world of the demo and the tests: renderer, dataset, datamodule.

:mod:`~rs_vlm.synthetic.shapes` and :mod:`~rs_vlm.synthetic.ground` draw objects and ground
textures, :mod:`~rs_vlm.synthetic.render` composes a scene, :mod:`~rs_vlm.synthetic.aerial` is
the :class:`SyntheticAerial` dataset (captions written by the real Mask-to-Box and Box-to-Caption
converters) and :mod:`~rs_vlm.synthetic.datamodule` its caption datamodule (imported on first
use: it needs Lightning, the dataset does not).
"""

from importlib import import_module
from typing import Any

from rs_vlm.synthetic.aerial import SyntheticAerial

__all__ = ['SyntheticAerial', 'SyntheticAerialDataModule']


def __getattr__(name: str) -> Any:
    """Import the Lightning datamodule on first access (PEP 562)."""
    if name == 'SyntheticAerialDataModule':
        return import_module('rs_vlm.synthetic.datamodule').SyntheticAerialDataModule
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

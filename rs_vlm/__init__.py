"""rs_vlm: Lightning modules, data tools and evaluation for remote-sensing vision-language models.

The heavy parts (torch, Lightning, open_clip) load on first use, so ``rs-vlm convert`` and
``import rs_vlm.conversion`` start fast.
"""

from importlib import import_module
from typing import Any

__all__ = ['RemoteCLIPModule', '__version__', 'load_model']

__version__ = '0.1.0'

_LAZY = {
    'RemoteCLIPModule': 'rs_vlm.modules',
    'load_model': 'rs_vlm.models',
}


def __getattr__(name: str) -> Any:
    """Import public names on first access (PEP 562)."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

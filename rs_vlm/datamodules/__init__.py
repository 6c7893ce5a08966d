"""Datamodules (torchgeo ``NonGeoDataModule`` subclasses) for captions, scenes and counting.

Names load on first access (PEP 562), so ``rs_vlm.datamodules.augmentation`` (the batched GPU
augmentation) imports without torchgeo and rasterio, which only the datamodules need.
"""

from importlib import import_module
from typing import Any

__all__ = [
    'CLIP_MEAN',
    'CLIP_STD',
    'AIDDataModule',
    'CaptionDataModule',
    'CaptionMixtureDataModule',
    'EuroSATRGBDataModule',
    'MLRSNetDataModule',
    'OPTIMAL31DataModule',
    'PatternNetDataModule',
    'RESISC45DataModule',
    'RSC11DataModule',
    'RSICB128DataModule',
    'RSICB256DataModule',
    'RSSCN7DataModule',
    'RemoteCountDataModule',
    'SIRIWHUDataModule',
    'SceneDataModule',
    'SyntheticAerialDataModule',
    'UCMercedDataModule',
    'WHURS19DataModule',
    'get_tokenizer',
]

_SCENE = (
    'AIDDataModule',
    'EuroSATRGBDataModule',
    'MLRSNetDataModule',
    'OPTIMAL31DataModule',
    'PatternNetDataModule',
    'RESISC45DataModule',
    'RSC11DataModule',
    'RSICB128DataModule',
    'RSICB256DataModule',
    'RSSCN7DataModule',
    'SceneDataModule',
    'SIRIWHUDataModule',
    'UCMercedDataModule',
    'WHURS19DataModule',
)

#: Public name -> the submodule defining it.
_LAZY = {
    'CLIP_MEAN': 'augmentation',
    'CLIP_STD': 'augmentation',
    'CaptionDataModule': 'caption',
    'CaptionMixtureDataModule': 'caption_mixture',
    'RemoteCountDataModule': 'remote_count',
    'SyntheticAerialDataModule': 'synthetic_aerial',
    'get_tokenizer': 'tokenizers',
    **dict.fromkeys(_SCENE, 'scene'),
}


def __getattr__(name: str) -> Any:
    """Import a public name from its submodule on first access."""
    if name in _LAZY:
        value = getattr(import_module(f'{__name__}.{_LAZY[name]}'), name)
        globals()[name] = value
        return value
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__() -> list[str]:
    """Module attributes including the lazily loaded public names."""
    return sorted(set(globals()) | set(__all__))

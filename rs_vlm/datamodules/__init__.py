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
    'PreparedMixtureDataModule',
    'RESISC45DataModule',
    'RSC11DataModule',
    'RSICB128DataModule',
    'RSICB256DataModule',
    'RSSCN7DataModule',
    'RemoteCountDataModule',
    'SIRIWHUDataModule',
    'SceneDataModule',
    'UCMercedDataModule',
    'WHURS19DataModule',
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

#: Public name -> the module defining it.
_LAZY = {
    'CLIP_MEAN': 'rs_vlm.datamodules.augmentation',
    'CLIP_STD': 'rs_vlm.datamodules.augmentation',
    'CaptionDataModule': 'rs_vlm.datamodules.caption',
    'CaptionMixtureDataModule': 'rs_vlm.datamodules.caption_mixture',
    'PreparedMixtureDataModule': 'rs_vlm.datamodules.prepared_mixture',
    'RemoteCountDataModule': 'rs_vlm.datamodules.remote_count',
    **dict.fromkeys(_SCENE, 'rs_vlm.datamodules.scene'),
    # moved to rs_vlm.synthetic; still resolved here for old configs
    'SyntheticAerialDataModule': 'rs_vlm.synthetic.datamodule',
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first access."""
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__() -> list[str]:
    """Module attributes including the lazily loaded public names."""
    return sorted(set(globals()) | set(__all__))

"""Datamodules (torchgeo ``NonGeoDataModule`` subclasses) for captions, scenes and counting."""

from typing import Any

from rs_vlm.datamodules.augmentation import CLIP_MEAN, CLIP_STD
from rs_vlm.datamodules.caption import CaptionDataModule
from rs_vlm.datamodules.caption_mixture import CaptionMixtureDataModule
from rs_vlm.datamodules.prepared_mixture import PreparedMixtureDataModule
from rs_vlm.datamodules.remote_count import RemoteCountDataModule
from rs_vlm.datamodules.scene import (
    AIDDataModule,
    EuroSATRGBDataModule,
    MLRSNetDataModule,
    OPTIMAL31DataModule,
    PatternNetDataModule,
    RESISC45DataModule,
    RSC11DataModule,
    RSICB128DataModule,
    RSICB256DataModule,
    RSSCN7DataModule,
    SceneDataModule,
    SIRIWHUDataModule,
    UCMercedDataModule,
    WHURS19DataModule,
)

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


def __getattr__(name: str) -> Any:
    # SyntheticAerialDataModule moved to rs_vlm.synthetic; resolved on use (no import cycle).
    if name == 'SyntheticAerialDataModule':
        from rs_vlm.synthetic.datamodule import SyntheticAerialDataModule

        return SyntheticAerialDataModule
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

"""Datamodules (torchgeo ``NonGeoDataModule`` subclasses) for captions, scenes and counting."""

from rs_vlm.datamodules.augmentation import CLIP_MEAN, CLIP_STD
from rs_vlm.datamodules.caption import CaptionDataModule
from rs_vlm.datamodules.tokenizers import get_tokenizer

__all__ = ['CLIP_MEAN', 'CLIP_STD', 'CaptionDataModule', 'get_tokenizer']

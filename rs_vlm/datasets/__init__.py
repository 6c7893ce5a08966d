"""Datasets (torchgeo ``NonGeoDataset`` subclasses): caption corpora, scene sets, RemoteCount."""

from rs_vlm.datasets.bad_input import BadInputPolicy, collate_skipping_bad
from rs_vlm.datasets.caption_corpus import CaptionCorpus
from rs_vlm.datasets.caption_csv import CaptionCSVDataset
from rs_vlm.datasets.caption_files import (
    JSONLCaptionDataset,
    KarpathyCaptionDataset,
    PrecompCaptionDataset,
)
from rs_vlm.datasets.decoding import load_image
from rs_vlm.datasets.retrieval_benchmark import RetrievalBenchmark
from rs_vlm.datasets.rsicd import RSICD
from rs_vlm.datasets.rsitmd import RSITMD
from rs_vlm.datasets.samplers import EpochRandomSampler
from rs_vlm.datasets.sydney_captions import SydneyCaptions
from rs_vlm.datasets.ucm_captions import UCMCaptions

__all__ = [
    'RSICD',
    'RSITMD',
    'BadInputPolicy',
    'CaptionCSVDataset',
    'CaptionCorpus',
    'EpochRandomSampler',
    'JSONLCaptionDataset',
    'KarpathyCaptionDataset',
    'PrecompCaptionDataset',
    'RetrievalBenchmark',
    'SydneyCaptions',
    'UCMCaptions',
    'collate_skipping_bad',
    'load_image',
]

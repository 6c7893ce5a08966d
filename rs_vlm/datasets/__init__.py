"""Datasets (torchgeo ``NonGeoDataset`` subclasses): caption corpora, scene sets, RemoteCount."""

from typing import Any

from rs_vlm.datasets.aid import AID
from rs_vlm.datasets.bad_input import BadInputPolicy, collate_skipping_bad
from rs_vlm.datasets.caption_corpus import CaptionCorpus
from rs_vlm.datasets.caption_csv import CaptionCSVDataset
from rs_vlm.datasets.caption_jsonl import JSONLCaptionDataset
from rs_vlm.datasets.caption_karpathy import KarpathyCaptionDataset
from rs_vlm.datasets.caption_mixture import CaptionMixture
from rs_vlm.datasets.caption_precomp import PrecompCaptionDataset
from rs_vlm.datasets.eurosat_rgb import EuroSATRGB
from rs_vlm.datasets.mlrsnet import MLRSNet
from rs_vlm.datasets.optimal31 import OPTIMAL31
from rs_vlm.datasets.patternnet import PatternNet
from rs_vlm.datasets.remote_count import RemoteCount
from rs_vlm.datasets.resisc45 import RESISC45
from rs_vlm.datasets.retrieval_benchmark import RetrievalBenchmark
from rs_vlm.datasets.rsc11 import RSC11
from rs_vlm.datasets.rsi_cb128 import RSICB128
from rs_vlm.datasets.rsi_cb256 import RSICB256
from rs_vlm.datasets.rsicd import RSICD
from rs_vlm.datasets.rsitmd import RSITMD
from rs_vlm.datasets.rsscn7 import RSSCN7
from rs_vlm.datasets.scene_dataset import SceneDataset
from rs_vlm.datasets.siri_whu import SIRIWHU
from rs_vlm.datasets.sydney_captions import SydneyCaptions
from rs_vlm.datasets.ucm_captions import UCMCaptions
from rs_vlm.datasets.ucmerced import UCMerced
from rs_vlm.datasets.webdataset_shards import WebDatasetShards
from rs_vlm.datasets.whu_rs19 import WHURS19
from rs_vlm.io.decoding import load_image
from rs_vlm.io.download import MissingDatasetError
from rs_vlm.samplers import EpochRandomSampler, WeightedMixtureSampler

#: The 12 zero-shot scene datasets of RemoteCLIP, by the name used in its tables.
ZERO_SHOT_DATASETS = {
    'RSI-CB128': RSICB128,
    'RSI-CB256': RSICB256,
    'WHU-earth': SIRIWHU,
    'EuroSAT': EuroSATRGB,
    'MLRSNet': MLRSNet,
    'PatternNet': PatternNet,
    'RESISC45': RESISC45,
    'AID': AID,
    'RS2800': RSSCN7,
    'OPTIMAL-31': OPTIMAL31,
    'RSC11': RSC11,
    'WHU-RS19': WHURS19,
}

__all__ = [
    'AID',
    'OPTIMAL31',
    'RESISC45',
    'RSC11',
    'RSICB128',
    'RSICB256',
    'RSICD',
    'RSITMD',
    'RSSCN7',
    'SIRIWHU',
    'WHURS19',
    'ZERO_SHOT_DATASETS',
    'BadInputPolicy',
    'CaptionCSVDataset',
    'CaptionCorpus',
    'CaptionMixture',
    'EpochRandomSampler',
    'EuroSATRGB',
    'JSONLCaptionDataset',
    'KarpathyCaptionDataset',
    'MLRSNet',
    'MissingDatasetError',
    'PatternNet',
    'PrecompCaptionDataset',
    'RemoteCount',
    'RetrievalBenchmark',
    'SceneDataset',
    'SydneyCaptions',
    'UCMCaptions',
    'UCMerced',
    'WebDatasetShards',
    'WeightedMixtureSampler',
    'collate_skipping_bad',
    'load_image',
]


def __getattr__(name: str) -> Any:
    # SyntheticAerial moved to rs_vlm.synthetic; resolved on use because that package imports
    # the datamodules, which import this package.
    if name == 'SyntheticAerial':
        from rs_vlm.synthetic.aerial import SyntheticAerial

        return SyntheticAerial
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

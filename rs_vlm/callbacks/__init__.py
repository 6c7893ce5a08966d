"""Lightning callbacks that evaluate a CLIP module during training.

All follow :class:`~rs_vlm.callbacks.encoding.EvaluationCallback`: they take their datasets as
init arguments, run at ``on_validation_epoch_end`` every N epochs, encode under
``torch.no_grad()`` in eval mode and the trainer's precision (with the full parameters under
FSDP), shard the data over DDP ranks and log ``val/<dataset>/<metric>``.
"""

from rs_vlm.callbacks.counting import CountingCallback
from rs_vlm.callbacks.encoding import EvaluationCallback
from rs_vlm.callbacks.feature_probe import FeatureProbeCallback
from rs_vlm.callbacks.metrics_table import MetricsTableCallback
from rs_vlm.callbacks.retrieval import RetrievalCallback
from rs_vlm.callbacks.zero_shot import ZeroShotCallback, build_zero_shot_classifier

__all__ = [
    'CountingCallback',
    'EvaluationCallback',
    'FeatureProbeCallback',
    'MetricsTableCallback',
    'RetrievalCallback',
    'ZeroShotCallback',
    'build_zero_shot_classifier',
]

"""Lightning callbacks that evaluate a CLIP module during training: thin adapters over the core.

All follow :class:`~rs_vlm.callbacks.EvaluationCallback`: they take their datasets as init
arguments, run at ``on_validation_epoch_end`` every N epochs in eval mode, under
``torch.no_grad()``, in the trainer's precision (with the full parameters under FSDP), and log
``val/<dataset>/<metric>``. Preprocessing, encoding sharded over ranks and the protocols are the
Lightning-free :mod:`rs_vlm.evaluation`.
"""

from rs_vlm.callbacks.base import EvaluationCallback
from rs_vlm.callbacks.counting import CountingCallback
from rs_vlm.callbacks.feature_probe import FeatureProbeCallback
from rs_vlm.callbacks.metrics_table import MetricsTableCallback
from rs_vlm.callbacks.retrieval import RetrievalCallback
from rs_vlm.callbacks.zero_shot import ZeroShotCallback

__all__ = [
    'CountingCallback',
    'EvaluationCallback',
    'FeatureProbeCallback',
    'MetricsTableCallback',
    'RetrievalCallback',
    'ZeroShotCallback',
]

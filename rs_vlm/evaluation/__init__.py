"""The Lightning-free evaluation core of RemoteCLIP's protocols.

* :mod:`~rs_vlm.evaluation.preprocessing`: the one evaluation preprocessing (a sample's image
  through the model's open_clip ``preprocess``).
* :mod:`~rs_vlm.evaluation.encoding`: :class:`Encoder` (datasets and strings -> features, on one
  process or sharded over ranks with ``torch.distributed`` gathering).
* Protocols over embeddings and labels: :mod:`~rs_vlm.evaluation.zero_shot`, retrieval
  (:func:`rs_vlm.metrics.retrieval_hit_rates`), :mod:`~rs_vlm.evaluation.knn`,
  :mod:`~rs_vlm.evaluation.linear_probe` (linear probe and few-shot),
  :mod:`~rs_vlm.evaluation.probes` (all three with one set of settings),
  :mod:`~rs_vlm.evaluation.counting`.
* The ``rs-vlm evaluate`` runner (:mod:`rs_vlm.evaluation.runner`, imported on use: it loads
  models and datasets) and its report.

Nothing here imports Lightning; :mod:`rs_vlm.callbacks` adapts these to a ``Trainer``.
"""

from rs_vlm.evaluation.counting import (
    CountingReport,
    count_caption_variants,
    dataset_captions,
    find_count,
    score_counting,
)
from rs_vlm.evaluation.encoding import EncodedImages, Encoder, gather_rows, shard_indices
from rs_vlm.evaluation.knn import knn_accuracy, knn_predict
from rs_vlm.evaluation.linear_probe import (
    FewShotResult,
    LinearProbeResult,
    few_shot_accuracy,
    linear_probe_accuracy,
    sample_few_shot,
    stratified_split,
    train_logistic_regression,
)
from rs_vlm.evaluation.preprocessing import SampleCollator, to_pil
from rs_vlm.evaluation.probes import PROBES, ProbeResults, ProbeSettings, run_probes
from rs_vlm.evaluation.zero_shot import (
    ZeroShotResult,
    build_zero_shot_classifier,
    top_k_accuracies,
    zero_shot_accuracy,
)
from rs_vlm.metrics.functional.retrieval import retrieval_hit_rates

__all__ = [
    'PROBES',
    'CountingReport',
    'EncodedImages',
    'Encoder',
    'FewShotResult',
    'LinearProbeResult',
    'ProbeResults',
    'ProbeSettings',
    'SampleCollator',
    'ZeroShotResult',
    'build_zero_shot_classifier',
    'count_caption_variants',
    'dataset_captions',
    'few_shot_accuracy',
    'find_count',
    'gather_rows',
    'knn_accuracy',
    'knn_predict',
    'linear_probe_accuracy',
    'retrieval_hit_rates',
    'run_probes',
    'sample_few_shot',
    'score_counting',
    'shard_indices',
    'stratified_split',
    'to_pil',
    'top_k_accuracies',
    'train_logistic_regression',
    'zero_shot_accuracy',
]

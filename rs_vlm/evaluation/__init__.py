"""Evaluation protocols of RemoteCLIP: probes, counting, the offline runner and its report.

Reusable functions (no Lightning needed): :func:`knn_accuracy`, :func:`linear_probe_accuracy`,
:func:`few_shot_accuracy`, :func:`score_counting`. The ``rs-vlm evaluate`` runner lives in
:mod:`rs_vlm.evaluation.runner` (imported on use: it loads the models and datasets).
"""

from rs_vlm.evaluation.counting import (
    CountingReport,
    count_caption_variants,
    find_count,
    score_counting,
)
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

__all__ = [
    'CountingReport',
    'FewShotResult',
    'LinearProbeResult',
    'count_caption_variants',
    'few_shot_accuracy',
    'find_count',
    'knn_accuracy',
    'knn_predict',
    'linear_probe_accuracy',
    'sample_few_shot',
    'score_counting',
    'stratified_split',
    'train_logistic_regression',
]

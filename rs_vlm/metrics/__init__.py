"""Evaluation metrics as torchmetrics ``Metric`` subclasses, with functional twins."""

from rs_vlm.metrics.counting import CountingAccuracy
from rs_vlm.metrics.functional import retrieval_hit_rates
from rs_vlm.metrics.retrieval import CrossModalRetrieval

__all__ = ['CountingAccuracy', 'CrossModalRetrieval', 'retrieval_hit_rates']

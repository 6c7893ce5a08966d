"""Functional forms of the rs_vlm metrics."""

from rs_vlm.metrics.functional.retrieval import retrieval_hit_rates

__all__ = ['retrieval_hit_rates']

"""Samplers that make an epoch's order a pure function of seed and epoch (exact resume)."""

from rs_vlm.samplers.epoch_random import EpochRandomSampler
from rs_vlm.samplers.weighted_mixture import WeightedMixtureSampler

__all__ = ['EpochRandomSampler', 'WeightedMixtureSampler']

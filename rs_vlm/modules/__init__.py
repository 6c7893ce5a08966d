"""LightningModules: contrastive CLIP training (RemoteCLIP recipe) and its loss/optimiser parts."""

from rs_vlm.modules.loss import InfoNCELoss
from rs_vlm.modules.optim import (
    WarmupCosineSchedule,
    clean_parameter_name,
    no_weight_decay_names,
    param_groups,
)
from rs_vlm.modules.remoteclip import RemoteCLIPModule

__all__ = [
    'InfoNCELoss',
    'RemoteCLIPModule',
    'WarmupCosineSchedule',
    'clean_parameter_name',
    'no_weight_decay_names',
    'param_groups',
]

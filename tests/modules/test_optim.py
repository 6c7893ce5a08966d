"""Weight-decay groups and the warm-up + cosine schedule."""

import pytest
import torch
from open_clip_train.scheduler import cosine_lr

from rs_vlm.models import create_clip
from rs_vlm.modules import WarmupCosineSchedule, clean_parameter_name, no_weight_decay_names
from rs_vlm.modules.optim import param_groups


def test_schedule_matches_open_clip_cosine_lr() -> None:
    base_lr, warmup, total = 0.1, 5, 23
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    adjust = cosine_lr(optimizer, base_lr, warmup, total)
    schedule = WarmupCosineSchedule(warmup, total)
    for step in range(total):
        adjust(step)
        assert base_lr * schedule(step) == pytest.approx(optimizer.param_groups[0]['lr'])


def test_schedule_end_points() -> None:
    schedule = WarmupCosineSchedule(4, 14)
    assert schedule(0) == pytest.approx(0.25)
    assert schedule(3) == pytest.approx(1.0)
    assert schedule(4) == pytest.approx(1.0)
    assert schedule(9) == pytest.approx(0.5)  # half-way through the cosine
    assert schedule(14) == pytest.approx(0.0, abs=1e-12)
    assert schedule(20) == pytest.approx(0.0, abs=1e-12)  # past the end stays at zero
    assert WarmupCosineSchedule(0, 10)(0) == pytest.approx(1.0)


def test_no_weight_decay_on_gains_biases_scale_embeddings() -> None:
    model = create_clip('rs-vit-tiny')
    no_decay = no_weight_decay_names(model)
    for name in (
        'logit_scale',
        'positional_embedding',
        'token_embedding.weight',
        'visual.class_embedding',
        'visual.positional_embedding',
        'ln_final.weight',
        'ln_final.bias',
        'visual.transformer.resblocks.0.ln_1.weight',
        'visual.transformer.resblocks.0.attn.in_proj_bias',
    ):
        assert name in no_decay, name
    for name in (
        'visual.conv1.weight',
        'visual.proj',
        'text_projection',
        'visual.transformer.resblocks.0.attn.in_proj_weight',
        'transformer.resblocks.1.mlp.c_fc.weight',
    ):
        assert name not in no_decay, name
    module_params = [('model.' + n, p) for n, p in model.named_parameters()]
    model.visual.conv1.weight.requires_grad_(False)
    groups = param_groups(module_params, no_decay, 0.2)
    counted = sum(len(g['params']) for g in groups)
    assert counted == sum(1 for _, p in model.named_parameters() if p.requires_grad)
    assert groups[0]['weight_decay'] == 0.0 and groups[1]['weight_decay'] == 0.2
    assert all(p is not model.visual.conv1.weight for g in groups for p in g['params'])


def test_clean_parameter_name_strips_wrappers() -> None:
    wrapped = 'model._fsdp_wrapped_module.visual._checkpoint_wrapped_module.conv1.weight'
    assert clean_parameter_name(wrapped) == 'model.visual.conv1.weight'

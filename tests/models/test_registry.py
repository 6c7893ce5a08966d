"""The released-weights registry: names, architectures, sources."""

import open_clip
import pytest

import rs_vlm.models  # noqa: F401  (registers the package's model configs)
from rs_vlm.models.registry import RELEASED_WEIGHTS, architecture_of, get_released_weights


def test_every_architecture_is_an_open_clip_config() -> None:
    for entry in RELEASED_WEIGHTS.values():
        assert open_clip.get_model_config(entry.architecture) is not None, entry.name


@pytest.mark.parametrize(
    ('name', 'architecture', 'repo_id', 'filename'),
    [
        ('RemoteCLIP-RN50', 'RN50-quickgelu', 'chendelong/RemoteCLIP', 'RemoteCLIP-RN50.pt'),
        (
            'RemoteCLIP-ViT-B-32',
            'ViT-B-32-quickgelu',
            'chendelong/RemoteCLIP',
            'RemoteCLIP-ViT-B-32.pt',
        ),
        (
            'RemoteCLIP-ViT-L-14',
            'ViT-L-14-quickgelu',
            'chendelong/RemoteCLIP',
            'RemoteCLIP-ViT-L-14.pt',
        ),
        ('GeoRSCLIP-ViT-B-32', 'ViT-B-32-quickgelu', 'Zilun/GeoRSCLIP', 'ckpt/RS5M_ViT-B-32.pt'),
        ('GeoRSCLIP-ViT-H-14', 'ViT-H-14', 'Zilun/GeoRSCLIP', 'ckpt/RS5M_ViT-H-14.pt'),
    ],
)
def test_hub_entries(name: str, architecture: str, repo_id: str, filename: str) -> None:
    entry = RELEASED_WEIGHTS[name]
    assert (entry.architecture, entry.repo_id, entry.filename) == (architecture, repo_id, filename)
    assert entry.on_hub
    assert entry.source == f'hf://{repo_id}/{filename}'
    assert 'arXiv' in entry.paper


def test_quick_gelu_follows_the_starting_weights() -> None:
    # OpenAI-initialised releases were trained with QuickGELU, LAION-initialised ones with GELU.
    quick = {name for name, e in RELEASED_WEIGHTS.items() if e.architecture.endswith('quickgelu')}
    assert quick == {
        'RemoteCLIP-RN50',
        'RemoteCLIP-ViT-B-32',
        'RemoteCLIP-ViT-L-14',
        'GeoRSCLIP-ViT-B-32',
        'SkyCLIP-ViT-L-14',
    }


def test_skyclip_is_listed_with_its_archive() -> None:
    entry = RELEASED_WEIGHTS['SkyCLIP-ViT-B-32']
    assert not entry.on_hub
    assert entry.url == (
        'https://opendatasharing.s3.us-west-2.amazonaws.com/SkyScript/ckpt/'
        'SkyCLIP_ViT_B32_top50pct.zip'
    )
    assert entry.archive_member == 'SkyCLIP_ViT_B32_top50pct/epoch_20.pt'


def test_lookup_is_case_insensitive_and_paths_are_not_names() -> None:
    assert get_released_weights('remoteclip-vit-b-32') is RELEASED_WEIGHTS['RemoteCLIP-ViT-B-32']
    assert get_released_weights('weights/RemoteCLIP-ViT-B-32.pt') is None
    assert get_released_weights(None) is None
    assert architecture_of('RemoteCLIP-RN50') == 'RN50-quickgelu'
    assert architecture_of('rs-vit-tiny') == 'rs-vit-tiny'


def test_models_command_lists_the_registry_and_the_cache(
    hub_cache, capsys: pytest.CaptureFixture
) -> None:
    import torch
    from hub_helpers import put_in_cache

    from rs_vlm.cli import main

    put_in_cache(
        hub_cache,
        'chendelong/RemoteCLIP',
        'RemoteCLIP-RN50.pt',
        lambda path: torch.save({'logit_scale': torch.tensor(4.6)}, path),
    )
    assert main(['models']) == 0
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line}
    assert lines['RemoteCLIP-RN50'][:3] == ['RemoteCLIP-RN50', 'RN50-quickgelu', 'yes']
    assert lines['RemoteCLIP-ViT-B-32'][2] == 'no'
    assert lines['SkyCLIP-ViT-B-32'][2] == 'manual'
    assert lines['GeoRSCLIP-ViT-B-32'][3] == 'hf://Zilun/GeoRSCLIP/ckpt/RS5M_ViT-B-32.pt'
    assert set(RELEASED_WEIGHTS) <= set(lines)


def test_datamodule_helpers_follow_a_released_name() -> None:
    from rs_vlm.datamodules.model_inputs import model_input_size
    from rs_vlm.models import get_tokenizer

    tokens = get_tokenizer('RemoteCLIP-RN50')(['a harbour'])
    assert tokens.shape == (1, 77)
    assert model_input_size('RemoteCLIP-ViT-L-14') == (224, 77)
    assert model_input_size('GeoRSCLIP-ViT-H-14') == (224, 77)

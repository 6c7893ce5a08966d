"""Each checkpoint layout loads (files made here in the exact key layouts); bad ones fail."""

import json
import warnings
from pathlib import Path

import open_clip
import pytest
import torch

from rs_vlm.errors import CheckpointError
from rs_vlm.models import guess_architecture, load_model, read_state_dict
from rs_vlm.models.factory import MODEL_CONFIG_DIR, quickgelu_twin, register_model_config
from rs_vlm.modules import RemoteCLIPModule


class NotATensor:
    """A custom class: weights_only loading must refuse to unpickle it."""

    def __init__(self) -> None:
        self.value = 3


@pytest.fixture(scope='module')
def reference() -> torch.nn.Module:
    """A default open_clip model (0-d logit_scale) with a non-default logit_scale value."""
    torch.manual_seed(0)
    model = open_clip.create_model('rs-vit-tiny')
    with torch.no_grad():
        model.logit_scale.fill_(3.0)
    return model.eval()


def _assert_same_weights(model: torch.nn.Module, reference: torch.nn.Module) -> None:
    expected = reference.state_dict()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, expected[key].reshape(value.shape), rtol=0, atol=0)


def _itra_layout(state_dict: dict[str, torch.Tensor]) -> dict[str, object]:
    raw = {}
    for key, value in state_dict.items():
        if key.startswith('visual.'):
            raw['module.image_backbone.' + key[len('visual.') :]] = value
        elif key == 'logit_scale':
            raw['module.logit_scale'] = value
        else:
            raw['module.text_backbone.' + key] = value
    return {'epoch': 7, 'state_dict': raw, 'optimizer': {'state': {}, 'param_groups': []}}


def test_official_release_layout(tmp_path: Path, reference: torch.nn.Module) -> None:
    path = tmp_path / 'RemoteCLIP-rs-vit-tiny.pt'
    torch.save(reference.state_dict(), path)
    model, preprocess, tokenizer = load_model('rs-vit-tiny', path)
    assert model.logit_scale.shape == (1,)
    _assert_same_weights(model, reference)
    assert not model.training
    assert tokenizer(['a harbour']).shape == (1, 77)
    assert preprocess.transforms[0].size == 32


def test_raw_training_checkpoint_layout(tmp_path: Path, reference: torch.nn.Module) -> None:
    path = tmp_path / 'RemoteCLIP_vittiny.pt'
    torch.save(_itra_layout(reference.state_dict()), path)
    state_dict, layout = read_state_dict(path)
    assert layout == 'itra'
    assert set(state_dict) == set(reference.state_dict())
    model, _, _ = load_model('rs-vit-tiny', path)
    _assert_same_weights(model, reference)


def test_open_clip_training_layout(tmp_path: Path, reference: torch.nn.Module) -> None:
    path = tmp_path / 'epoch_1.pt'
    wrapped = {'module.' + key: value for key, value in reference.state_dict().items()}
    torch.save({'epoch': 1, 'name': 'run', 'state_dict': wrapped}, path)
    assert read_state_dict(path)[1] == 'open_clip_train'
    model, _, _ = load_model('rs-vit-tiny', path)
    _assert_same_weights(model, reference)


def test_lightning_checkpoint_initialises_module(lightning_checkpoint: Path) -> None:
    _, layout = read_state_dict(lightning_checkpoint)
    assert layout == 'lightning'
    raw = torch.load(lightning_checkpoint, weights_only=True)['state_dict']
    module = RemoteCLIPModule('rs-vit-tiny', pretrained=str(lightning_checkpoint))
    for key, value in module.model.state_dict().items():
        assert torch.equal(value, raw['model.' + key]), key


def test_wrong_architecture_lists_keys_and_names_the_right_one(tmp_path: Path) -> None:
    path = tmp_path / 'resnet.pt'
    resnet = open_clip.create_model('rs-rn-tiny').state_dict()
    vit = open_clip.create_model('rs-vit-tiny').state_dict()
    missing, unexpected = sorted(set(vit) - set(resnet)), sorted(set(resnet) - set(vit))
    torch.save(resnet, path)
    with pytest.raises(CheckpointError) as info:
        load_model('rs-vit-tiny', path)
    message = str(info.value)
    assert str(path) in message
    assert (
        f'({len(missing)} missing, {len(unexpected)} unexpected, 1 with another shape)' in message
    )
    assert f'missing: {missing[0]}, {missing[1]}' in message
    assert f'unexpected: {unexpected[0]}, {unexpected[1]}' in message
    assert 'visual.conv1.weight (file [8, 3, 3, 3], model [64, 3, 8, 8])' in message
    assert 'architecture of: rs-rn-tiny' in message


@pytest.mark.parametrize(
    ('name', 'expected'),
    [('RN50', 'RN50'), ('ViT-B-32', 'ViT-B-32'), ('ViT-L-14', 'ViT-L-14'), ('RN101', 'RN101')],
)
def test_guess_architecture_from_shapes(name: str, expected: str) -> None:
    with torch.device('meta'):
        state_dict = open_clip.create_model(name, device='meta').state_dict()
    guesses = guess_architecture(state_dict)
    # OpenAI-initialised weights were trained with QuickGELU: that variant is the first hint
    assert guesses[0] == f'{expected}-quickgelu'
    assert set(guesses) == {expected, f'{expected}-quickgelu'}


def test_pickled_object_is_refused(tmp_path: Path, reference: torch.nn.Module) -> None:
    path = tmp_path / 'unsafe.pt'
    torch.save({'state_dict': reference.state_dict(), 'args': NotATensor()}, path)
    with pytest.raises(CheckpointError, match='refused to unpickle') as info:
        load_model('rs-vit-tiny', path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ('content', 'match'),
    [
        ({'backbone.weight': torch.zeros(2)}, 'unknown key layout'),
        ([torch.zeros(2)], 'holds a list'),
        ({'state_dict': {'encoder.weight': torch.zeros(2)}}, 'unknown key layout'),
        ({'visual.conv1.weight': torch.zeros(2), 'epoch': 3}, "key 'epoch'"),
    ],
)
def test_unknown_layouts(tmp_path: Path, content: object, match: str) -> None:
    path = tmp_path / 'odd.pt'
    torch.save(content, path)
    with pytest.raises(CheckpointError, match=match) as info:
        read_state_dict(path)
    assert str(path) in str(info.value)


def test_missing_file_folder_and_garbage(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match='no such checkpoint file'):
        read_state_dict(tmp_path / 'absent.pt')
    with pytest.raises(CheckpointError, match='consolidate_checkpoint'):
        read_state_dict(tmp_path)
    garbage = tmp_path / 'garbage.pt'
    garbage.write_bytes(b'not a torch file at all')
    with pytest.raises(CheckpointError, match=r'garbage\.pt'):
        read_state_dict(garbage)


def test_unknown_model_name_and_tag() -> None:
    with pytest.raises(ValueError, match="unknown model name 'ViT-Q-99'"):
        load_model('ViT-Q-99')
    with pytest.raises(CheckpointError, match='not an open_clip pretrained tag'):
        RemoteCLIPModule('rs-vit-tiny', pretrained='no-such-file-or-tag.pt')


@pytest.mark.parametrize('name', ['RN50', 'ViT-B-32', 'ViT-L-14'])
def test_openai_family_names_have_a_quickgelu_twin(name: str) -> None:
    assert quickgelu_twin(name) == f'{name}-quickgelu'
    assert quickgelu_twin(f'{name}-quickgelu') is None
    assert quickgelu_twin('rs-vit-tiny') is None  # no QuickGELU variant exists


def test_plain_name_with_release_file_warns_with_the_quickgelu_name(
    tmp_path: Path, reference: torch.nn.Module
) -> None:
    # A tiny GELU / QuickGELU pair registered the way open_clip ships RN50 / RN50-quickgelu.
    config = json.loads((MODEL_CONFIG_DIR / 'rs-vit-tiny.json').read_text())
    register_model_config('rs-gelu-pair', config)
    register_model_config('rs-gelu-pair-quickgelu', {**config, 'quick_gelu': True})
    path = tmp_path / 'RemoteCLIP-release.pt'
    torch.save(reference.state_dict(), path)
    with pytest.warns(UserWarning, match=r"use 'rs-gelu-pair-quickgelu'") as record:
        plain, _, _ = load_model('rs-gelu-pair', path)
    assert str(path) in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        quick, _, _ = load_model('rs-gelu-pair-quickgelu', path)
        forced, _, _ = load_model('rs-gelu-pair', path, force_quick_gelu=True)
        load_model('rs-gelu-pair', None)  # random weights: nothing to warn about
    image = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        # why it matters: same weights, different activation, different embeddings
        assert not torch.allclose(plain.encode_image(image), quick.encode_image(image))
        torch.testing.assert_close(forced.encode_image(image), quick.encode_image(image))

"""Released weights through the Hugging Face Hub cache: cached, downloaded, offline."""

import hashlib
import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import open_clip
import pytest
import torch
from hub_helpers import REVISION, put_in_cache

from rs_vlm.models import create_clip, get_tokenizer, load_model
from rs_vlm.models.hub import WeightsUnavailableError, cached_file, hub_file
from rs_vlm.models.registry import RELEASED_WEIGHTS, ReleasedWeights
from rs_vlm.modules import RemoteCLIPModule

TINY = ReleasedWeights(
    name='Tiny-RS-CLIP',
    architecture='rs-vit-tiny',
    paper='test weights, arXiv:0000.00000',
    repo_id='test-org/tiny-rs-clip',
    filename='ckpt/tiny.pt',
)


@pytest.fixture
def tiny_release(monkeypatch: pytest.MonkeyPatch) -> ReleasedWeights:
    monkeypatch.setitem(RELEASED_WEIGHTS, TINY.name, TINY)
    return TINY


def _reference_state_dict() -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    model = open_clip.create_model('rs-vit-tiny')  # 0-d logit_scale, as released files have
    return {key: value.clone() for key, value in model.state_dict().items()}


def _cache_tiny(cache: Path) -> dict[str, torch.Tensor]:
    state = _reference_state_dict()
    put_in_cache(cache, TINY.repo_id, TINY.filename, lambda path: torch.save(state, path))
    return state


def test_cached_release_loads_by_name_offline(
    hub_cache: Path, tiny_release: ReleasedWeights
) -> None:
    state = _cache_tiny(hub_cache)
    model, _, tokenizer = load_model('Tiny-RS-CLIP')
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key].reshape(value.shape), value), key
    assert not model.training
    assert tokenizer(['a farm']).shape == (1, 77)
    assert get_tokenizer('Tiny-RS-CLIP')(['x']).shape == (1, 77)


def test_cached_file_needs_no_network(
    hub_cache: Path, tiny_release: ReleasedWeights, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cache_tiny(hub_cache)
    monkeypatch.delenv('HF_HUB_OFFLINE')

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError('the network was asked for a cached file')

    monkeypatch.setattr('socket.create_connection', no_network)
    expected = (
        hub_cache / 'models--test-org--tiny-rs-clip' / 'snapshots' / REVISION / 'ckpt/tiny.pt'
    )
    assert hub_file(TINY.repo_id, TINY.filename) == expected
    assert cached_file(TINY.repo_id, 'ckpt/other.pt') is None


def test_pretrained_release_in_a_training_module(
    hub_cache: Path, tiny_release: ReleasedWeights
) -> None:
    state = _cache_tiny(hub_cache)
    module = RemoteCLIPModule(model_name='rs-vit-tiny', pretrained='Tiny-RS-CLIP')
    weights = module.model.state_dict()
    assert torch.equal(weights['visual.conv1.weight'], state['visual.conv1.weight'])
    assert weights['logit_scale'].shape == (1,)  # FSDP-ready 1-D scale
    assert torch.equal(weights['logit_scale'].reshape(()), state['logit_scale'])


def test_offline_and_not_cached_fails_fast_with_one_line(
    hub_cache: Path, tiny_release: ReleasedWeights
) -> None:
    started = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as caught:
        load_model('Tiny-RS-CLIP')
    elapsed = time.perf_counter() - started
    message = str(caught.value)
    assert elapsed < 2.0
    assert '\n' not in message
    assert 'hf://test-org/tiny-rs-clip/ckpt/tiny.pt' in message
    assert 'HF_HUB_OFFLINE is set' in message
    assert 'hf download test-org/tiny-rs-clip ckpt/tiny.pt' in message
    assert str(hub_cache) in message


def test_unreachable_hub_fails_fast(
    hub_cache: Path, tiny_release: ReleasedWeights, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.delenv('HF_HUB_OFFLINE')
    with socket_closed_port() as port:
        monkeypatch.setattr(constants, 'ENDPOINT', f'http://127.0.0.1:{port}')
        started = time.perf_counter()
        with pytest.raises(WeightsUnavailableError, match='is unreachable'):
            create_clip('rs-vit-tiny', pretrained='Tiny-RS-CLIP')
    assert time.perf_counter() - started < 5.0


def test_skyclip_says_where_to_get_it(hub_cache: Path) -> None:
    with pytest.raises(WeightsUnavailableError) as caught:
        load_model('SkyCLIP-ViT-B-32')
    assert 'SkyCLIP_ViT_B32_top50pct.zip' in str(caught.value)
    assert 'SkyCLIP_ViT_B32_top50pct/epoch_20.pt' in str(caught.value)


def test_release_name_with_own_checkpoint_builds_its_architecture(
    tmp_path: Path, hub_cache: Path, tiny_release: ReleasedWeights
) -> None:
    state = _reference_state_dict()
    torch.save(state, tmp_path / 'mine.pt')
    model, _, _ = load_model('Tiny-RS-CLIP', tmp_path / 'mine.pt')
    assert torch.equal(model.state_dict()['visual.proj'], state['visual.proj'])


def test_activation_mismatch_is_reported(hub_cache: Path) -> None:
    with pytest.warns(UserWarning, match='trained with QuickGELU'):
        with pytest.raises(WeightsUnavailableError):
            create_clip('ViT-B-32', pretrained='RemoteCLIP-ViT-B-32')


def test_open_clip_tag_offline_fails_fast(hub_cache: Path) -> None:
    started = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as caught:
        create_clip('RN50-quickgelu', pretrained='openai')
    assert time.perf_counter() - started < 2.0
    assert '\n' not in str(caught.value)
    assert 'hf download timm/resnet50_clip.openai' in str(caught.value)


def test_open_clip_tag_from_the_cache(hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.torch import save_file

    tags = {'testtag': {'hf_hub': 'test-org/tiny-open-clip/', 'mean': (0.5, 0.5, 0.5)}}
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, 'rs-vit-tiny', tags)
    state = _reference_state_dict()
    put_in_cache(
        hub_cache,
        'test-org/tiny-open-clip',
        'open_clip_model.safetensors',
        lambda path: save_file(state, path),
    )
    model = create_clip('rs-vit-tiny', pretrained='testtag')
    assert torch.equal(model.state_dict()['visual.proj'], state['visual.proj'])
    assert tuple(open_clip.get_model_preprocess_cfg(model)['mean']) == (0.5, 0.5, 0.5)


class socket_closed_port:
    """A loopback port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            return sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        return None


class _FakeHub(http.server.BaseHTTPRequestHandler):
    """Serves ``/<org>/<repo>/resolve/<rev>/<file>`` with the headers huggingface_hub reads."""

    files: dict[str, bytes] = {}
    gets: list[str] = []

    def _answer(self, body: bool) -> None:
        path = self.path.split('?')[0]
        for name, content in self.files.items():
            if path.endswith(f'/resolve/main/{name}'):
                self.send_response(200)
                self.send_header('X-Repo-Commit', REVISION)
                self.send_header('ETag', f'"{hashlib.sha256(content).hexdigest()}"')
                self.send_header('Content-Length', str(len(content)))
                self.end_headers()
                if body:
                    self.gets.append(name)
                    self.wfile.write(content)
                return
        self.send_response(404)
        self.send_header('X-Error-Code', 'EntryNotFound')
        self.send_header('Content-Length', '0')
        self.end_headers()

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def fake_hub(tmp_path: Path) -> Iterator[tuple[str, dict[str, bytes], list[str]]]:
    state = _reference_state_dict()
    torch.save(state, tmp_path / 'tiny.pt')
    _FakeHub.files = {'ckpt/tiny.pt': (tmp_path / 'tiny.pt').read_bytes()}
    _FakeHub.gets = []
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}', _FakeHub.files, _FakeHub.gets
    finally:
        server.shutdown()


_DOWNLOAD_SCRIPT = """
import json, sys, torch
from rs_vlm.models.registry import RELEASED_WEIGHTS, ReleasedWeights
RELEASED_WEIGHTS['Tiny-RS-CLIP'] = ReleasedWeights(
    name='Tiny-RS-CLIP', architecture='rs-vit-tiny', paper='test',
    repo_id='test-org/tiny-rs-clip', filename='ckpt/tiny.pt')
from rs_vlm.models import load_model
sums = []
for _ in range(2):  # the second load finds the file in the cache
    model, _, _ = load_model('Tiny-RS-CLIP')
    sums.append(float(model.state_dict()['visual.proj'].double().sum()))
print(json.dumps(sums))
"""


@pytest.mark.slow
def test_download_through_huggingface_hub(
    fake_hub: tuple[str, dict[str, bytes], list[str]], subprocess_env: dict[str, str]
) -> None:
    endpoint, files, gets = fake_hub
    env = {**subprocess_env, 'HF_ENDPOINT': endpoint}
    env.pop('HF_HUB_OFFLINE')
    expected = float(_reference_state_dict()['visual.proj'].double().sum())
    run = subprocess.run(
        [sys.executable, '-c', _DOWNLOAD_SCRIPT], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == [expected, expected]
    assert gets == ['ckpt/tiny.pt']
    cache = Path(env['HF_HUB_CACHE']) / 'models--test-org--tiny-rs-clip'
    assert (cache / 'refs' / 'main').read_text() == REVISION
    assert (cache / 'snapshots' / REVISION / 'ckpt' / 'tiny.pt').read_bytes() == files[
        'ckpt/tiny.pt'
    ]

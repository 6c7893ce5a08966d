"""``rs-vlm export``: Lightning checkpoint -> plain open_clip state_dict, strict-loadable."""

import os
from pathlib import Path

import open_clip
import pytest
import torch

from rs_vlm.cli import main
from rs_vlm.modules import RemoteCLIPModule


def test_export_loads_strictly_and_gives_identical_embeddings(
    lightning_checkpoint: Path, tmp_path: Path
) -> None:
    output = tmp_path / 'out' / 'model.pt'
    assert main(['export', '--checkpoint', str(lightning_checkpoint), '--output', str(output)]) == 0
    state_dict = torch.load(output, weights_only=True)
    assert not any(key.startswith(('model.', 'module.')) for key in state_dict)
    model = open_clip.create_model('rs-vit-tiny')  # a default model: 0-d logit_scale
    assert model.logit_scale.ndim == 0 and state_dict['logit_scale'].ndim == 0
    assert str(model.load_state_dict(state_dict, strict=True)) == '<All keys matched successfully>'
    module = RemoteCLIPModule('rs-vit-tiny', pretrained=str(lightning_checkpoint)).eval()
    model.eval()
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    tokens = module.tokenizer(['a harbour', 'an airport', 'a forest'])
    with torch.no_grad():
        assert torch.equal(model.encode_image(images, normalize=True), module.encode_images(images))
        assert torch.equal(model.encode_text(tokens, normalize=True), module.encode_texts(tokens))
        assert torch.equal(model.logit_scale.exp(), module.model.logit_scale.exp().squeeze())


def test_export_of_an_unsafe_file_fails_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    unsafe = tmp_path / 'unsafe.ckpt'
    torch.save({'state_dict': {'visual.proj': torch.zeros(2, 2)}, 'obj': Path('x')}, unsafe)
    output = tmp_path / 'model.pt'
    assert main(['export', '--checkpoint', str(unsafe), '--output', str(output)]) == 1
    assert str(unsafe) in capsys.readouterr().err
    assert not output.exists()


def test_export_needs_a_model_name_for_plain_files(tmp_path: Path) -> None:
    plain = tmp_path / 'plain.pt'
    torch.save(open_clip.create_model('rs-rn-tiny').state_dict(), plain)
    output = tmp_path / 'model.pt'
    assert main(['export', '--checkpoint', str(plain), '--output', str(output)]) == 1
    assert not output.exists()
    args = ['export', '--checkpoint', str(plain), '--output', str(output)]
    assert main([*args, '--model-name', 'rs-rn-tiny']) == 0
    # The wrong architecture is caught by the strict verification.
    assert main([*args, '--model-name', 'rs-vit-tiny']) == 1


def test_interrupted_export_leaves_no_partial_file(
    lightning_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / 'model.pt'
    output.write_bytes(b'previous export')

    def interrupted_save(obj: object, path: str | Path) -> None:
        Path(path).write_bytes(b'half a file')
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, 'save', interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        main(['export', '--checkpoint', str(lightning_checkpoint), '--output', str(output)])
    assert output.read_bytes() == b'previous export'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['model.pt']


_EXPORT_UNDER_A_MEMORY_CAP = """
import resource, sys
from rs_vlm.models.export import main

pages = int(open('/proc/self/statm').read().split()[0])
limit = pages * resource.getpagesize() + (1 << 30)  # ViT-bigG-14 in float32 is about 10 GB
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
print('exit', main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_export_refuses_a_huge_architecture_before_building_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    plain = tmp_path / 'plain.pt'
    torch.save(open_clip.create_model('rs-vit-tiny').state_dict(), plain)
    output = tmp_path / 'model.pt'
    args = ['export', '--checkpoint', str(plain), '--output', str(output)]
    result = subprocess.run(
        [sys.executable, '-c', _EXPORT_UNDER_A_MEMORY_CAP, *args, '--model-name', 'ViT-bigG-14'],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert 'exit 1' in result.stdout, result.stderr[-3000:]
    assert f'{plain}: weights do not fit the model' in result.stderr
    assert 'the file matches the architecture of: rs-vit-tiny' in result.stderr
    assert not output.exists()


_PLAIN_OPEN_CLIP_SCRIPT = """
import sys
import numpy as np
import open_clip
import torch

folder, inputs, output = sys.argv[1:]
model, _, preprocess = open_clip.create_model_and_transforms('local-dir:' + folder)
tokenizer = open_clip.get_tokenizer('local-dir:' + folder)
model.eval()
data = np.load(inputs)
with torch.no_grad():
    image = model.encode_image(torch.from_numpy(data['images']), normalize=True)
    text = model.encode_text(tokenizer(['a harbour', 'an airport', 'a forest']), normalize=True)
size = np.array(preprocess.transforms[1].size)
np.savez(output, image=image.numpy(), text=text.numpy(), size=size)
assert not any(name.startswith('rs_vlm') for name in sys.modules), 'rs_vlm was imported'
"""


@pytest.mark.slow
def test_exported_folder_loads_in_plain_open_clip_with_identical_embeddings(
    lightning_checkpoint: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    import numpy as np

    folder = tmp_path / 'rs-vit-tiny-export'
    assert main(['export', '--checkpoint', str(lightning_checkpoint), '--output', str(folder)]) == 0
    assert sorted(path.name for path in folder.iterdir()) == [
        'open_clip_config.json',
        'open_clip_model.safetensors',
    ]
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    np.savez(tmp_path / 'inputs.npz', images=images.numpy())
    # A fresh interpreter, in a folder without rs_vlm, that never imports rs_vlm.
    run = subprocess.run(
        [sys.executable, '-c', _PLAIN_OPEN_CLIP_SCRIPT, str(folder), 'inputs.npz', 'out.npz'],
        cwd=tmp_path,
        env={key: value for key, value in os.environ.items() if key != 'PYTHONPATH'},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    result = np.load(tmp_path / 'out.npz')
    module = RemoteCLIPModule('rs-vit-tiny', pretrained=str(lightning_checkpoint)).eval()
    tokens = module.tokenizer(['a harbour', 'an airport', 'a forest'])
    with torch.no_grad():
        np.testing.assert_array_equal(result['image'], module.encode_images(images).numpy())
        np.testing.assert_array_equal(result['text'], module.encode_texts(tokens).numpy())
    assert result['size'].tolist() == [32, 32]


def test_folder_config_keeps_quick_gelu_and_preprocessing(tmp_path: Path) -> None:
    import json

    from rs_vlm.models import load_model

    module = RemoteCLIPModule('rs-rn-tiny', force_quick_gelu=True)
    checkpoint = tmp_path / 'quick.ckpt'
    torch.save(
        {
            'state_dict': {f'model.{k}': v for k, v in module.model.state_dict().items()},
            'hyper_parameters': {'model_name': 'rs-rn-tiny', 'force_quick_gelu': True},
        },
        checkpoint,
    )
    folder = tmp_path / 'exported'
    assert main(['export', '--checkpoint', str(checkpoint), '--output', str(folder)]) == 0
    config = json.loads((folder / 'open_clip_config.json').read_text())
    assert config['model_cfg']['quick_gelu'] is True
    assert (
        config['model_cfg']['vision_cfg'] == open_clip.get_model_config('rs-rn-tiny')['vision_cfg']
    )
    assert config['preprocess_cfg']['mean'] == list(open_clip.OPENAI_DATASET_MEAN)
    assert config['preprocess_cfg']['interpolation'] == 'bicubic'
    # Our own readers take the folder as a checkpoint too.
    model, _, _ = load_model('rs-rn-tiny', folder)
    assert torch.equal(model.state_dict()['visual.conv1.weight'], module.model.visual.conv1.weight)


def test_safetensors_export_round_trips(lightning_checkpoint: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from rs_vlm.models import read_state_dict

    output = tmp_path / 'model.safetensors'
    assert main(['export', '--checkpoint', str(lightning_checkpoint), '--output', str(output)]) == 0
    written = load_file(output)
    assert written['logit_scale'].ndim == 0
    state_dict, layout = read_state_dict(output)
    assert layout == 'open_clip'
    assert all(torch.equal(state_dict[key], value) for key, value in written.items())
    # The header decides, not the suffix.
    renamed = output.rename(tmp_path / 'model.bin')
    assert read_state_dict(renamed)[1] == 'open_clip'


def test_export_refuses_to_overwrite_its_input(lightning_checkpoint: Path, tmp_path: Path) -> None:
    copy = tmp_path / 'tiny.pt'
    copy.write_bytes(lightning_checkpoint.read_bytes())
    before = copy.read_bytes()
    assert main(['export', '--checkpoint', str(copy), '--output', str(copy)]) == 1
    assert copy.read_bytes() == before


@pytest.mark.parametrize(
    'content',
    [
        b'\x10\x00\x00\x00\x00\x00\x00\x00{"a": {"dtype"',  # header cut short
        (40).to_bytes(8, 'little')
        + b'{"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}',
    ],
)
def test_hostile_safetensors_bytes_name_the_file(tmp_path: Path, content: bytes) -> None:
    from rs_vlm.errors import CheckpointError
    from rs_vlm.models import read_state_dict

    path = tmp_path / 'bad.safetensors'
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r'bad\.safetensors'):
        read_state_dict(path)


@pytest.mark.parametrize('name', ['model.onnx', 'last.ckpt', 'weights.json'])
def test_export_refuses_a_file_suffix_it_does_not_write(
    lightning_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture, name: str
) -> None:
    output = tmp_path / name
    assert main(['export', '--checkpoint', str(lightning_checkpoint), '--output', str(output)]) == 1
    assert not output.exists()
    assert f"unknown export suffix '{Path(name).suffix}'" in capsys.readouterr().err


def test_export_folder_names_with_a_version_stay_folders(
    lightning_checkpoint: Path, tmp_path: Path
) -> None:
    output = tmp_path / 'RemoteCLIP-v1.0'
    assert main(['export', '--checkpoint', str(lightning_checkpoint), '--output', str(output)]) == 0
    assert (output / 'open_clip_config.json').is_file()

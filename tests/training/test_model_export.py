"""``rs-vlm export``: Lightning checkpoint -> plain open_clip state_dict, strict-loadable."""

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

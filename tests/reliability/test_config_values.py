"""Config values that cannot work stop ``rs-vlm fit`` at once with the key and the value."""

from pathlib import Path

import pytest
import torch
from corpus_helpers import fit_config, write_caption_corpus

from rs_vlm.errors import ConfigError
from rs_vlm.lightning_cli import run_lightning_cli
from rs_vlm.modules import RemoteCLIPModule


@pytest.fixture(scope='module')
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_caption_corpus(tmp_path_factory.mktemp('values') / 'data', 6)


@pytest.mark.parametrize(
    ('option', 'message'),
    [
        ('--data.init_args.batch_size=0', 'data.init_args.batch_size: must be at least 1, got 0'),
        ('--data.init_args.batch_size=-4', 'data.init_args.batch_size: must be at least 1'),
        ('--data.init_args.num_workers=-1', 'data.init_args.num_workers: must be >= 0, got -1'),
        ('--model.init_args.lr=-0.001', 'model.init_args.lr: must be a finite number >= 0'),
        ('--model.init_args.eps=0', 'RemoteCLIPModule: eps must be > 0, got 0.0'),
        ('--model.init_args.max_steps=0', 'max_steps must be >= 1 or None, got 0'),
    ],
)
def test_bad_values_are_config_errors(tmp_path, corpus, capsys, option, message) -> None:
    config = fit_config(tmp_path / 'run', corpus, max_epochs=1)
    assert run_lightning_cli(['fit', '--config', str(config), option]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'run' / 'checkpoints').exists()


def test_module_refuses_negative_learning_rate_in_python() -> None:
    with pytest.raises(ValueError, match=r'lr must be a finite number >= 0, got -1\.0'):
        RemoteCLIPModule('rs-vit-tiny', lr=-1.0)
    with pytest.raises(ValueError, match='betas must be two numbers in'):
        RemoteCLIPModule('rs-vit-tiny', betas=(0.9, 1.0))


@pytest.mark.slow
def test_tokenizer_of_another_context_length_is_named(tmp_path, corpus, capsys) -> None:
    """rs-vit-demo reads 32 tokens; the config tokenizes with rs-vit-tiny's 77."""
    config = fit_config(tmp_path / 'run', corpus, max_epochs=1)
    code = run_lightning_cli(
        ['fit', '--config', str(config), '--model.init_args.model_name=rs-vit-demo']
    )
    torch.use_deterministic_algorithms(False)
    assert code == 1
    error = capsys.readouterr().err
    assert "77 tokens per caption, but model 'rs-vit-demo' has a context length of 32" in error
    module = RemoteCLIPModule('rs-vit-demo')
    with pytest.raises(ConfigError, match='context length of 32'):
        module.predict_step({'text': torch.zeros(2, 77, dtype=torch.long)}, 0)

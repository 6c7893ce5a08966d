"""ZeroShotCallback and RetrievalCallback on the GPU give the CPU's results."""

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, Trainer
from torch.utils.data import DataLoader, Dataset

from rs_vlm.callbacks import RetrievalCallback, ZeroShotCallback
from rs_vlm.metrics import retrieval_hit_rates
from rs_vlm.modules import RemoteCLIPModule


class Scenes(Dataset):
    classes = ['airport', 'harbour', 'forest', 'river']
    templates = ['a satellite photo of {}.', 'an aerial view of {}.']

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(1)
        self.images = torch.randint(0, 256, (12, 3, 40, 40), generator=generator).float()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        return {'image': self.images[index], 'label': index % 4}


class Pairs(Scenes):
    def __init__(self) -> None:
        super().__init__()
        self.captions = [f'{self.classes[i % 4]} number {i}' for i in range(len(self) * 5)]
        self.caption_to_image = [i // 5 for i in range(len(self.captions))]

    def __getitem__(self, index: int) -> dict:
        return {'image': self.images[index], 'index': index}


def validate(module, accelerator, precision, callback):
    """Metrics the callback logs, and the raw image/text features the model gave it."""
    outputs = {'image': [], 'text': []}
    model = module.model

    class StartRecording(Callback):  # runs before `callback`: the validation step is not recorded
        def on_validation_epoch_end(self, trainer, pl_module):
            outputs['recording'] = True

    def recording(kind, encode):
        def wrapper(*args, **kwargs):
            features = encode(*args, **kwargs)
            if outputs.get('recording'):
                outputs[kind].append(features)
            return features

        return wrapper

    model.encode_image = recording('image', model.encode_image)
    model.encode_text = recording('text', model.encode_text)
    trainer = Trainer(
        accelerator=accelerator, devices=1, precision=precision, logger=False,
        enable_progress_bar=False, enable_model_summary=False,
        callbacks=[StartRecording(), callback],
    )  # fmt: skip
    batch = {'image': torch.randn(2, 3, 32, 32), 'text': module.tokenizer(['a', 'b'])}
    try:
        trainer.validate(module, dataloaders=DataLoader([batch], batch_size=None), verbose=False)
    finally:
        del model.encode_image, model.encode_text
    assert trainer.strategy.root_device.type == accelerator
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k != 'val/loss'}
    features = {
        k: F.normalize(torch.cat(outputs[k]).double().cpu(), dim=-1) for k in ('image', 'text')
    }
    return metrics, features


@pytest.mark.parametrize(('precision', 'tolerance'), [('32-true', 1e-4), ('bf16-mixed', 2e-2)])
def test_callbacks_on_cuda_match_cpu(precision, tolerance):
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    module = RemoteCLIPModule('rs-vit-tiny')
    for make in (
        lambda: ZeroShotCallback({'scenes': Scenes()}, batch_size=5),
        lambda: RetrievalCallback({'pairs': Pairs()}, batch_size=5),
    ):
        metrics_cpu, features_cpu = validate(module, 'cpu', '32-true', make())
        metrics_gpu, features_gpu = validate(module, 'cuda', precision, make())
        assert set(metrics_gpu) == set(metrics_cpu) and len(metrics_cpu) in (2, 7)
        for kind in ('image', 'text'):
            assert torch.allclose(features_gpu[kind], features_cpu[kind], atol=tolerance)
        if precision == '32-true':
            assert metrics_gpu == pytest.approx(metrics_cpu, abs=1e-4)  # float32 percentages
    # recall from the GPU features, scored here in float64: what the callback logged
    expected = retrieval_hit_rates(
        features_gpu['image'], features_gpu['text'], Pairs().caption_to_image
    )
    for key, value in expected.items():
        assert metrics_gpu[f'val/pairs/{key}'] == pytest.approx(float(value), abs=1e-4)

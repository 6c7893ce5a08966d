"""ZeroShotCallback and RetrievalCallback on the GPU give the CPU's results."""

import pytest
import torch
from lightning.pytorch import Trainer
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


def validate(module, accelerator, precision):
    zero_shot = ZeroShotCallback({'scenes': Scenes()}, batch_size=5)
    retrieval = RetrievalCallback({'pairs': Pairs()}, batch_size=5)
    trainer = Trainer(
        accelerator=accelerator, devices=1, precision=precision, logger=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[zero_shot, retrieval],
    )  # fmt: skip
    batch = {'image': torch.randn(2, 3, 32, 32), 'text': module.tokenizer(['a', 'b'])}
    trainer.validate(module, dataloaders=DataLoader([batch], batch_size=None), verbose=False)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k != 'val/loss'}
    logits = zero_shot.last_outputs['scenes'][0]
    images, texts = retrieval.last_outputs['pairs']
    assert trainer.strategy.root_device.type == accelerator
    return metrics, logits, images, texts


@pytest.mark.parametrize(('precision', 'tolerance'), [('32-true', 1e-4), ('bf16-mixed', 2e-2)])
def test_callbacks_on_cuda_match_cpu(precision, tolerance):
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    module = RemoteCLIPModule('rs-vit-tiny')
    metrics_cpu, logits_cpu, images_cpu, texts_cpu = validate(module, 'cpu', '32-true')
    metrics_gpu, logits_gpu, images_gpu, texts_gpu = validate(module, 'cuda', precision)
    assert set(metrics_gpu) == set(metrics_cpu) and len(metrics_cpu) == 2 + 7
    # features are unit vectors: compare them (and 100 x cosine logits) directly
    assert torch.allclose(images_gpu, images_cpu, atol=tolerance)
    assert torch.allclose(texts_gpu, texts_cpu, atol=tolerance)
    assert torch.allclose(logits_gpu, logits_cpu, atol=100 * tolerance)
    assert logits_gpu.dtype == torch.float32  # scored outside the trainer's autocast
    if precision == '32-true':
        assert metrics_gpu == pytest.approx(metrics_cpu, abs=1e-4)  # float32 percentages
    # recall from the GPU features, scored here in float64: what the callback logged
    expected = retrieval_hit_rates(
        images_gpu.double(), texts_gpu.double(), Pairs().caption_to_image
    )
    for key, value in expected.items():
        assert metrics_gpu[f'val/pairs/{key}'] == pytest.approx(float(value), abs=1e-4)

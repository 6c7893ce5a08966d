"""Callbacks on the package's RemoteCLIPModule (tiny ViT), checked against open_clip's own code."""

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Trainer
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from rs_vlm.callbacks import RetrievalCallback, ZeroShotCallback
from rs_vlm.metrics import retrieval_hit_rates
from rs_vlm.modules import RemoteCLIPModule

CLASSES = ['airport', 'beach', 'dense residential', 'forest']
TEMPLATES = ['a satellite photo of {}.', 'an overhead view of a {}.']


def random_images(n, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=gen).float()


class Scenes(Dataset):
    classes = CLASSES
    templates = TEMPLATES

    def __init__(self):
        self.images = random_images(12, 0)
        self.labels = torch.arange(12) % 4

    def __len__(self):
        return 12

    def __getitem__(self, i):
        return {'image': self.images[i], 'label': self.labels[i]}


class Retrieval(Dataset):
    def __init__(self):
        self.images = random_images(6, 1)
        self.caption_to_image = [i // 5 for i in range(30)]
        self.captions = [f'{CLASSES[i % 4]} number {i}' for i in range(30)]

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return {'image': self.images[i], 'index': i}


def open_clip_features(module, images):
    """Features the way open_clip evaluates: PIL image -> image_transform -> encode_image."""
    preprocess = open_clip.image_transform(32, is_train=False)
    pils = [Image.fromarray(img.permute(1, 2, 0).byte().numpy()) for img in images]
    batch = torch.stack([preprocess(p) for p in pils])
    with torch.no_grad():
        return F.normalize(module.model.encode_image(batch), dim=-1)


@pytest.fixture(scope='module')
def validated():
    torch.manual_seed(0)
    module = RemoteCLIPModule('rs-vit-tiny')
    tokens = module.tokenizer(['x'] * 2)
    val = [{'image': torch.zeros(3, 32, 32), 'text': tokens[0]}] * 2
    callbacks = [
        ZeroShotCallback({'scenes': Scenes()}, top_k=(1, 3), batch_size=5),
        RetrievalCallback({'ret': Retrieval()}, batch_size=4),
    ]
    trainer = Trainer(
        accelerator='cpu', logger=False, callbacks=callbacks, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.validate(module, DataLoader(val, batch_size=2), verbose=False)
    return module, trainer.callback_metrics


def test_zero_shot_matches_itra_classifier_on_open_clip_features(validated):
    module, logged = validated
    module.eval()
    with torch.no_grad():
        # ITRA's classifier: mean of each class's raw prompt embeddings, then normalised
        prompts = [[t.format(c) for t in TEMPLATES] for c in CLASSES]
        raw = [module.model.encode_text(module.tokenizer(p)) for p in prompts]
        classifier = torch.stack([F.normalize(r.mean(0), dim=-1) for r in raw]).T
    scenes = Scenes()
    logits = 100 * open_clip_features(module, scenes.images) @ classifier
    ranks = (logits > logits.gather(1, scenes.labels[:, None])).sum(1).numpy()
    assert logged['val/scenes/top1'].item() == pytest.approx(np.mean(ranks < 1) * 100)
    assert logged['val/scenes/top3'].item() == pytest.approx(np.mean(ranks < 3) * 100)


def test_retrieval_matches_direct_computation(validated):
    module, logged = validated
    dataset = Retrieval()
    images = open_clip_features(module, dataset.images)
    with torch.no_grad():
        texts = F.normalize(module.model.encode_text(module.tokenizer(dataset.captions)), dim=-1)
    expected = retrieval_hit_rates(images, texts, dataset.caption_to_image)
    for key, value in expected.items():
        assert logged[f'val/ret/{key}'].item() == pytest.approx(value.item(), abs=1e-4)

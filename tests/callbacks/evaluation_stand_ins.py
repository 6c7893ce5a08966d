"""Stand-ins for callback tests: an 'oracle' CLIP-like module whose features are known.

Images are solid colours whose red value encodes a number x; strings are tokenised to the
first number they state (digits or one..ten). Both encoders map x to the unit vector at angle
``x * 15`` degrees (differences stay under 180 degrees), so similarities fall with
|x_image - x_text| and every expected metric can be worked out by hand.
"""

import math
import re

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from open_clip import OPENAI_DATASET_MEAN as CLIP_MEAN
from open_clip import OPENAI_DATASET_STD as CLIP_STD
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

WORDS = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten']
NUMBER = re.compile(r'\b(' + '|'.join(WORDS) + r'|\d+(?:\.\d+)?)\b', re.IGNORECASE)
SCALE = 20.0  # red value = x * SCALE


def number_image(x: float, size: int = 12) -> Tensor:
    return torch.full((3, size, size), x * SCALE)


def angle_features(x: Tensor) -> Tensor:
    angle = x * math.pi / 12
    return torch.stack([angle.cos(), angle.sin()], dim=-1)


def tokenize(texts: list[str]) -> Tensor:
    values = []
    for text in texts:
        token = NUMBER.search(text).group(1).lower()
        values.append(WORDS.index(token) + 1 if token in WORDS else float(token))
    return torch.tensor(values)[:, None]


class OracleEncoder(nn.Module):
    """Counts its calls and records the mode and grad state it ran in."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.image_size = 8
        self.text_calls = 0
        self.image_calls = 0
        self.seen_training_flags: list[bool] = []
        self.seen_grad_enabled: list[bool] = []

    @property
    def visual(self) -> nn.Module:
        return self

    def decode(self, images: Tensor) -> Tensor:
        red = images[:, 0].mean(dim=(1, 2)) * CLIP_STD[0] + CLIP_MEAN[0]
        return torch.round(red * 255 / SCALE * 100) / 100

    def encode_image(self, images: Tensor) -> Tensor:
        self.image_calls += 1
        self.seen_training_flags.append(self.training)
        self.seen_grad_enabled.append(torch.is_grad_enabled())
        return angle_features(self.decode(images)) * self.scale

    def encode_text(self, tokens: Tensor) -> Tensor:
        self.text_calls += 1
        return angle_features(tokens[:, 0].float()) * self.scale


class OracleModule(LightningModule):
    """Follows the RemoteCLIPModule contract: model, tokenizer, encode_images, encode_texts."""

    def __init__(self) -> None:
        super().__init__()
        self.model = OracleEncoder()
        self.tokenizer = tokenize

    def encode_images(self, images: Tensor) -> Tensor:
        return F.normalize(self.model.encode_image(images), dim=-1)

    def encode_texts(self, tokens: Tensor) -> Tensor:
        return F.normalize(self.model.encode_text(tokens), dim=-1)

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        return (self.model.scale * batch.sum() * 0).sum()

    def validation_step(self, batch: Tensor, batch_idx: int) -> None:
        self.log('val/loss', batch.sum())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.0)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(torch.ones(2, 1), batch_size=1)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(torch.ones(3, 1), batch_size=1)


class NumberRetrieval(Dataset):
    """4 images x 5 captions; image 0's last caption says 0.8 (nearer image 1)."""

    def __init__(self) -> None:
        self.image_values = [0.0, 1.0, 2.0, 3.0]
        offsets = [-0.2, -0.1, 0.0, 0.1, 0.2]
        self.captions = []
        self.caption_to_image = []
        for i, x in enumerate(self.image_values):
            for offset in offsets:
                value = x + offset if (i, offset) != (0, 0.2) else 0.8
                self.captions.append(f'item {abs(value):.1f}')
                self.caption_to_image.append(i)

    def __len__(self) -> int:
        return len(self.image_values)

    def __getitem__(self, index: int) -> dict:
        return {'image': number_image(self.image_values[index]), 'index': index}


class NumberScenes(Dataset):
    """6 images, 3 classes; images 1 and 5 lie nearer class 1 than their own class."""

    classes = ['item 0', 'item 1', 'item 2']
    templates = ['a photo of {}.', 'an overhead view of {}.']

    def __init__(self, values=(0.1, 0.6, 1.0, 1.2, 2.0, 1.4), labels=(0, 0, 1, 1, 2, 2)) -> None:
        self.values = list(values)
        self.labels = list(labels)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int) -> dict:
        return {
            'image': number_image(self.values[index]),
            'label': torch.tensor(self.labels[index]),
        }


class NumberCounting(Dataset):
    """Counting samples: image value = the count the 'model' sees; last caption has no number."""

    def __init__(self) -> None:
        self.seen = [3, 5.4, 2, 7]
        self.captions = ['three planes.', 'Two ships in a harbor.', 'two tanks', 'some cars']
        self.counts = [3, 2, 2, 4]

    def __len__(self) -> int:
        return len(self.seen)

    def __getitem__(self, index: int) -> dict:
        return {
            'image': number_image(self.seen[index]),
            'caption': self.captions[index],
            'label': torch.tensor(self.counts[index]),
            'class_name': 'plane',
        }

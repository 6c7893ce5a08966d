"""Small data for training tests: random image-caption batches as a LightningDataModule."""

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

CAPTIONS = [
    'many buildings and some green trees',
    'a plane parked at the airport',
    'two ships in the harbour',
    'a baseball field beside a road',
    'farmland with a river',
    'a storage tank near the port',
    'dense residential area',
    'a bridge over the water',
]


class RandomPairs(Dataset):
    """Deterministic random images (normalised) with tokenised captions."""

    def __init__(self, tokenizer, length: int = 16, image_size: int = 32, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.images = torch.randn(length, 3, image_size, image_size, generator=generator)
        captions = [CAPTIONS[i % len(CAPTIONS)] + f' number {i}' for i in range(length)]
        self.tokens = tokenizer(captions)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {'image': self.images[index], 'text': self.tokens[index], 'index': index}


class RandomPairsDataModule(LightningDataModule):
    """Train/val/predict loaders over :class:`RandomPairs`."""

    def __init__(self, tokenizer, batch_size: int = 4, length: int = 16, val: bool = True) -> None:
        super().__init__()
        self.dataset = RandomPairs(tokenizer, length)
        self.batch_size = batch_size
        self.has_val = val

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        if not self.has_val:
            return []
        return DataLoader(self.dataset, batch_size=self.batch_size)

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.batch_size)

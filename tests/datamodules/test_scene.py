from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from torchgeo.trainers import ClassificationTask

from rs_vlm.datamodules import CLIP_MEAN, CLIP_STD, AIDDataModule


def _aid_folder(root: Path, make_image) -> None:
    for folder in ('Airport', 'Beach', 'Desert'):
        for index in range(10):
            make_image(root / folder / f'{folder}_{index}.png', (48, 40), seed=index, fmt='PNG')


@pytest.mark.torchgeo
def test_scene_datamodule_batches(tmp_path: Path, make_image) -> None:
    _aid_folder(tmp_path, make_image)
    datamodule = AIDDataModule(root=tmp_path, batch_size=4, image_size=32)
    datamodule.setup('fit')
    assert (len(datamodule.train_dataset), len(datamodule.val_dataset)) == (21, 3)
    datamodule.setup('test')
    assert len(datamodule.test_dataset) == 6
    raw = next(iter(datamodule.test_dataloader()))
    assert raw['image'].shape == (4, 3, 32, 32) and raw['label'].dtype == torch.long

    class _Eval:
        training = False

    datamodule.trainer = _Eval()  # type: ignore[assignment]
    batch = datamodule.on_after_batch_transfer(dict(raw), 0)
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    assert torch.allclose(batch['image'], (raw['image'] / 255 - mean) / std, atol=1e-4)
    assert torch.equal(batch['label'], raw['label'])


@pytest.mark.slow
@pytest.mark.torchgeo
def test_torchgeo_classification_task_trains_on_our_datamodule(tmp_path: Path, make_image) -> None:
    _aid_folder(tmp_path, make_image)
    datamodule = AIDDataModule(root=tmp_path, batch_size=4, image_size=32)
    task = ClassificationTask(
        model='resnet18', weights=None, in_channels=3, task='multiclass', num_classes=30
    )
    before = [p.detach().clone() for p in task.model.parameters()]
    trainer = Trainer(fast_dev_run=True, accelerator='cpu', logger=False, enable_progress_bar=False)
    trainer.fit(task, datamodule=datamodule)
    assert trainer.state.finished
    changed = any(not torch.equal(a, b) for a, b in zip(before, task.model.parameters()))
    assert changed


@pytest.mark.torchgeo
def test_lightning_cli_config_sets_the_dataset_root(tmp_path: Path) -> None:
    from jsonargparse import ArgumentParser
    from lightning.pytorch import LightningDataModule

    from rs_vlm.datamodules import AIDDataModule, WHURS19DataModule

    parser = ArgumentParser()
    parser.add_subclass_arguments(LightningDataModule, 'data')
    for cls, dataset in ((AIDDataModule, 'AID'), (WHURS19DataModule, 'WHURS19')):
        config = parser.parse_args(
            [
                f'--data={cls.__module__}.{cls.__name__}',
                f'--data.root={tmp_path}',
                '--data.batch_size=4',
            ]
        )
        datamodule = parser.instantiate_classes(config).data
        assert isinstance(datamodule, cls)
        assert datamodule.dataset_class.__name__ == dataset
        assert datamodule.kwargs['root'] == str(tmp_path)
        assert datamodule.batch_size == 4

"""Every dataset plots a sample as torchgeo datasets do, so ``datamodule.plot()`` works."""

from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from rs_vlm.datamodules import CaptionDataModule
from rs_vlm.datasets import AID, CaptionCSVDataset, CaptionMixture, RemoteCount
from rs_vlm.datasets.plotting import image_for_display

matplotlib.use('Agg')


def _title(figure: Figure) -> str:
    return figure.axes[0].get_title(loc='left')


def _shown(figure: Figure) -> np.ndarray:
    return np.asarray(figure.axes[0].images[0].get_array())


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close('all')


def test_scene_sample_shows_class_name_and_prediction(tmp_path: Path, make_image) -> None:
    for folder in ('Airport', 'BareLand'):
        for index in range(5):
            make_image(tmp_path / 'AID' / folder / f'{folder}_{index}.jpg', seed=index)
    dataset = AID(tmp_path, split='test')
    sample = dataset[0]
    figure = dataset.plot(sample, suptitle='AID test')
    assert isinstance(figure, Figure)
    assert _title(figure) == f'label: {dataset.classes[int(sample["label"])]}'
    assert figure._suptitle.get_text() == 'AID test'
    expected = sample['image'].round().to(torch.uint8).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(_shown(figure), expected)
    sample['prediction'] = torch.tensor(dataset.classes.index('bareLand'))
    assert _title(dataset.plot(sample)).endswith('prediction: bareLand')
    assert _title(dataset.plot(sample, show_titles=False)) == ''


def test_caption_sample_and_retrieval_sample(caption_csv: Path) -> None:
    train = CaptionCSVDataset(caption_csv, image_size=None)
    sample = train[1]
    assert _title(train.plot(sample)) == sample['caption']
    retrieval = CaptionCSVDataset(caption_csv, mode='retrieval', image_size=None)
    index = next(i for i, path in enumerate(retrieval.image_paths) if path.name == 'img0.jpg')
    title = _title(retrieval.plot(retrieval[index]))
    assert title == '1. a photo number 0\n2. second caption, with a comma'
    mixture = CaptionMixture([train, train])
    assert _title(mixture.plot(mixture[7])) == mixture[7]['caption']


def test_uint8_images_plot_the_same(caption_csv: Path) -> None:
    as_float = CaptionCSVDataset(caption_csv, image_size=None)
    as_bytes = CaptionCSVDataset(caption_csv, image_size=None)
    as_bytes.image_dtype = torch.uint8
    np.testing.assert_array_equal(
        _shown(as_float.plot(as_float[0])), _shown(as_bytes.plot(as_bytes[0]))
    )


def test_remote_count_sample_shows_caption_and_count(
    tmp_path: Path, make_image: Callable[..., Path]
) -> None:
    make_image(tmp_path / 'images' / 'a.png', (36, 36), fmt='PNG')
    (tmp_path / 'remotecount.csv').write_text(
        'filepath,caption,class_name,count\n'
        'images/a.png,There are three planes parked on the apron.,plane,3\n'
    )
    dataset = RemoteCount(tmp_path)
    title = _title(dataset.plot(dataset[0]))
    assert title == 'There are three planes parked on the apron.\ncount: 3 plane'


def test_torchgeo_datamodule_plot_returns_the_figure(caption_csv: Path) -> None:
    datamodule = CaptionDataModule(
        train_csv=caption_csv, val_csv=caption_csv, image_size=32, tokenizer='rs-vit-tiny'
    )
    datamodule.setup('fit')
    sample = datamodule.val_dataset[0]
    figure = datamodule.plot(sample)
    assert isinstance(figure, Figure)
    assert _title(figure) == sample['caption']


@pytest.mark.parametrize('shape', [(4, 8, 8), (8, 8), (3, 8, 8, 1)])
def test_images_that_are_not_rgb_are_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match='expected an image'):
        image_for_display(torch.zeros(shape))


def test_grey_images_are_shown_in_grey() -> None:
    grey = image_for_display(torch.full((1, 2, 2), 300.0))
    assert grey.shape == (2, 2, 3) and grey.dtype == torch.uint8 and int(grey.max()) == 255

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rs_vlm.datasets import CaptionCSVDataset
from rs_vlm.errors import CorpusError


def test_groups_rows_by_image_and_resolves_relative_paths(caption_csv: Path) -> None:
    dataset = CaptionCSVDataset(caption_csv, mode='retrieval', image_size=None)
    assert len(dataset) == 6
    assert dataset.image_paths[0] == caption_csv.parent / 'images' / 'img0.jpg'
    assert dataset.image_captions[0] == ['a photo number 0', 'second caption, with a comma']
    assert dataset.image_captions[1] == ['a photo number 1', 'another caption of one']
    assert len(dataset.captions) == 8
    assert dataset.caption_to_image == [0, 0, 1, 1, 2, 3, 4, 5]
    sample = dataset[3]
    assert int(sample['index']) == 3
    expected = np.asarray(Image.open(dataset.image_paths[3]).convert('RGB'), dtype=np.float32)
    assert sample['image'].dtype == torch.float32
    assert torch.equal(sample['image'], torch.from_numpy(expected).permute(2, 0, 1))


def test_train_mode_caption_choice_is_deterministic_per_epoch(caption_csv: Path) -> None:
    def tokenizer(texts: list[str]) -> torch.Tensor:
        return torch.tensor([[len(text)] for text in texts])

    dataset = CaptionCSVDataset(caption_csv, image_size=16, tokenizer=tokenizer, seed=3)
    picks = {epoch: dataset[(0, epoch)]['caption'] for epoch in range(20)}
    assert set(picks.values()) == set(dataset.image_captions[0])
    assert dataset[(0, 5)]['caption'] == picks[5]
    sample = dataset[(2, 0)]
    assert sample['caption'] == 'a photo number 2'
    assert sample['text'].tolist() == [len('a photo number 2')]
    assert sample['image'].shape == (3, 16, 16)


def test_tab_separated_with_absolute_paths(tmp_path: Path, make_image) -> None:
    image = make_image(tmp_path / 'elsewhere' / 'a.png', fmt='PNG')
    tsv = tmp_path / 'corpus' / 'data.tsv'
    tsv.parent.mkdir()
    tsv.write_text(f'title\tfilepath\nsome caption\t{image}\n')
    dataset = CaptionCSVDataset(tsv, mode='retrieval', image_size=None)
    assert dataset.image_paths == [image]
    assert dataset.captions == ['some caption']


def test_missing_column_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / 'bad.csv'
    path.write_text('path,title\na.jpg,x\n')
    with pytest.raises(CorpusError, match=r"bad.csv, line 1, key 'filepath'"):
        CaptionCSVDataset(path)


def test_missing_image_names_file_and_line(caption_csv: Path) -> None:
    (caption_csv.parent / 'images' / 'img4.jpg').unlink()
    with pytest.raises(CorpusError, match=r'train.csv, line 6: image file not found'):
        CaptionCSVDataset(caption_csv)


def test_skip_policy_counts_and_logs(caption_csv: Path, caplog: pytest.LogCaptureFixture) -> None:
    (caption_csv.parent / 'images' / 'img4.jpg').unlink()
    (caption_csv.parent / 'images' / 'img5.jpg').write_bytes(b'\xff\xd8\xff truncated')
    with caption_csv.open('a') as handle:
        handle.write('images/img2.jpg,\n')
    with caplog.at_level(logging.WARNING, logger='rs_vlm.datasets'):
        dataset = CaptionCSVDataset(caption_csv, on_error='skip', image_size=8)
        assert dataset.num_skipped == 2  # empty caption + missing file
        assert len(dataset) == 5
        assert dataset[4] is None  # the truncated JPEG
    assert dataset.num_skipped == 3
    messages = [record.getMessage() for record in caplog.records]
    assert any('line 10' in message and 'empty caption' in message for message in messages)
    assert any('img5.jpg' in message for message in messages)


def test_corrupt_image_raises_naming_the_file(caption_csv: Path) -> None:
    (caption_csv.parent / 'images' / 'img5.jpg').write_bytes(b'not a jpeg')
    dataset = CaptionCSVDataset(caption_csv)
    with pytest.raises(CorpusError, match=r'img5\.jpg'):
        dataset[5]


def test_wrong_encoding_names_line(tmp_path: Path) -> None:
    path = tmp_path / 'latin.csv'
    path.write_bytes('filepath,title\na.jpg,ok\nb.jpg,caf\xe9\n'.encode('latin-1'))
    with pytest.raises(CorpusError, match=r'latin.csv, line 3: not valid UTF-8'):
        CaptionCSVDataset(path)

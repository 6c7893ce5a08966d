"""Corpus files by suffix and the mixture manifest, on corpora `rs-vlm convert` writes."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rs_vlm.cli import main as rs_vlm
from rs_vlm.datamodules import CaptionDataModule
from rs_vlm.datamodules.corpus_files import open_caption_corpus, read_mixture_manifest
from rs_vlm.datasets.caption_jsonl import JSONLCaptionDataset
from rs_vlm.errors import CorpusError

QUAD = '10 10 20 10 20 20 10 20'


@pytest.fixture
def dota(tmp_path: Path) -> Path:
    (tmp_path / 'labelTxt').mkdir()
    (tmp_path / 'images').mkdir()
    for i in range(3):
        pixels = np.full((40, 50, 3), 60 * i, dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / 'images' / f'P{i}.png')
        (tmp_path / 'labelTxt' / f'P{i}.txt').write_text(f'{QUAD} ship 0\n' * (i + 1))
    return tmp_path


@pytest.mark.parametrize('name', ['corpus.csv', 'corpus.tsv', 'corpus.jsonl'])
def test_every_convert_output_trains_through_the_caption_datamodule(dota: Path, name: str) -> None:
    # A .jsonl corpus used to be parsed as CSV, and its "filepath" key was not read.
    output = dota / 'out' / name
    args = ['convert', '--format', 'dota', '--annotations', str(dota / 'labelTxt')]
    assert rs_vlm([*args, '--output', str(output), '--no-progress']) == 0
    datamodule = CaptionDataModule(train_csv=output, tokenizer='rs-vit-tiny', batch_size=3)
    assert datamodule.image_size == 32  # rs-vit-tiny's own input size
    datamodule.setup('fit')
    dataset = datamodule.train_dataset
    assert len(dataset) == 3
    sample = dataset[(2, 0)]
    assert sample['image'].shape == (3, 32, 32) and sample['image'].dtype == torch.uint8
    assert sample['path'] == str(dota / 'images' / 'P2.png')
    assert sample['caption'] and sample['text'].shape == (77,)


def test_jsonl_reads_filepath_and_filename(tmp_path: Path) -> None:
    Image.new('RGB', (8, 8)).save(tmp_path / 'a.png')
    path = tmp_path / 'c.jsonl'
    path.write_text(
        json.dumps({'filepath': 'a.png', 'captions': ['one', 'two']})
        + '\n'
        + json.dumps({'filename': 'a.png', 'captions': ['three']})
        + '\n'
    )
    dataset = JSONLCaptionDataset(path, mode='retrieval')
    assert dataset.captions == ['one', 'two', 'three']
    path.write_text(json.dumps({'file': 'a.png', 'captions': ['x']}) + '\n')
    with pytest.raises(CorpusError, match="'filepath' \\(or 'filename'\\)") as info:
        JSONLCaptionDataset(path)
    assert info.value.line == 1


def test_explicit_image_size_and_context_length_win() -> None:
    datamodule = CaptionDataModule(tokenizer='rs-vit-tiny', image_size=48, context_length=16)
    assert (datamodule.image_size, datamodule.context_length) == (48, 16)
    assert CaptionDataModule(tokenizer='ViT-B-32').image_size == 224


def test_unknown_suffix_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"unknown corpus suffix '\.txt'"):
        open_caption_corpus(tmp_path / 'corpus.txt')


def test_manifest_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / 'mixture.json'
    with pytest.raises(CorpusError, match='rs-vlm prepare'):
        read_mixture_manifest(path)
    path.write_text('{"corpora": []}')
    with pytest.raises(CorpusError, match=r'"format": "rs_vlm\.mixture/1"'):
        read_mixture_manifest(path)
    document = {'format': 'rs_vlm.mixture/1', 'corpora': [{'name': 'dota', 'path': 'dota.tsv'}]}
    path.write_text(json.dumps(document))
    with pytest.raises(CorpusError, match='not found') as info:
        read_mixture_manifest(path)
    assert info.value.key == 'corpora[0].path'
    (tmp_path / 'dota.tsv').write_text('filepath\ttitle\n')
    document['corpora'].append({'name': 'dota', 'path': 'dota.tsv'})
    path.write_text(json.dumps(document))
    with pytest.raises(CorpusError, match='unique name') as info:
        read_mixture_manifest(path)
    assert info.value.key == 'corpora[1].name'
    document['corpora'][1] = {'name': 'x', 'path': '../../etc/passwd'}
    path.write_text(json.dumps(document))
    with pytest.raises(CorpusError, match=r'\.csv/\.tsv/\.jsonl'):
        read_mixture_manifest(path)

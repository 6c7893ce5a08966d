"""Archives and WebDataset shards: unsafe member names refused; shard reading resumes mid-epoch."""

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch
from corpus_helpers import write_caption_corpus

from rs_vlm.datamodules.resumable_loader import ResumableDataLoader
from rs_vlm.datasets.bad_input import collate_skipping_bad
from rs_vlm.datasets.caption_csv import CaptionCSVDataset
from rs_vlm.datasets.webdataset_shards import WebDatasetShards
from rs_vlm.errors import CorpusError
from rs_vlm.io.download import ArchiveError, safe_extract
from rs_vlm.io.webdataset_writer import write_shards
from rs_vlm.samplers.epoch_random import EpochRandomSampler

UNSAFE_NAMES = ['/etc/evil.txt', '../evil.txt', 'data/../../evil.txt', 'C:/evil.txt']


def _tar_with(path: Path, name: str, data: bytes = b'x') -> Path:
    with tarfile.open(path, 'w') as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize('name', UNSAFE_NAMES[:3])
def test_tar_extraction_refuses_unsafe_members(tmp_path: Path, name: str) -> None:
    archive = _tar_with(tmp_path / 'a.tar', name)
    with pytest.raises(ArchiveError, match='unsafe member') as info:
        safe_extract(archive, tmp_path / 'out')
    assert str(archive) in str(info.value)
    assert not (tmp_path / 'evil.txt').exists() and not list((tmp_path / 'out').iterdir())


def test_tar_member_with_a_drive_name_stays_in_the_folder(tmp_path: Path) -> None:
    # tarfile's 'data' filter: 'C:' is a plain folder name on POSIX (refused on Windows)
    archive = _tar_with(tmp_path / 'a.tar', 'C:/evil.txt')
    safe_extract(archive, tmp_path / 'out')
    assert [p.relative_to(tmp_path) for p in (tmp_path / 'out').rglob('*.txt')] == [
        Path('out/C:/evil.txt')
    ]


@pytest.mark.parametrize('name', UNSAFE_NAMES)
def test_zip_extraction_refuses_unsafe_members(tmp_path: Path, name: str) -> None:
    archive = tmp_path / 'a.zip'
    with zipfile.ZipFile(archive, 'w') as handle:
        handle.writestr('ok.txt', 'fine')
        handle.writestr(zipfile.ZipInfo(name), 'evil')
    with pytest.raises(ArchiveError, match='unsafe member'):
        safe_extract(archive, tmp_path / 'out')
    assert not (tmp_path / 'evil.txt').exists() and not list((tmp_path / 'out').iterdir())


def test_tar_extraction_refuses_links_out_of_the_folder(tmp_path: Path) -> None:
    archive = tmp_path / 'link.tar'
    with tarfile.open(archive, 'w') as handle:
        info = tarfile.TarInfo('images/escape')
        info.type = tarfile.SYMTYPE
        info.linkname = '../../outside'
        handle.addfile(info)
    with pytest.raises(ArchiveError):
        safe_extract(archive, tmp_path / 'out')


@pytest.mark.parametrize('name', ['/abs/img.jpg', '../up/img.jpg', 'a/../../img.jpg'])
def test_webdataset_shard_refuses_unsafe_members(tmp_path: Path, name: str) -> None:
    shard = _tar_with(tmp_path / 'shard-000000.tar', name, b'\xff\xd8')
    with pytest.raises(CorpusError, match='unsafe member') as info:
        WebDatasetShards(tmp_path)
    assert str(shard) in str(info.value) and name in str(info.value)


def test_webdataset_index_refuses_unsafe_names(tmp_path: Path) -> None:
    index = tmp_path / 'index.json'
    index.write_text(json.dumps({'samples': [['../x.tar', 'a.jpg', 0, 1, ['cap']]]}))
    with pytest.raises(CorpusError, match='unsafe member') as info:
        WebDatasetShards(tmp_path)
    assert str(index) in str(info.value)


@pytest.mark.parametrize('workers', [0, 2])
def test_webdataset_shards_resume_mid_epoch(tmp_path: Path, workers: int) -> None:
    """Shard reading through the resumable loader: stop after 3 batches, resume, same order."""
    csv_path = write_caption_corpus(tmp_path / 'src', 20, size=32)
    write_shards(CaptionCSVDataset(csv_path, image_size=None), tmp_path / 'shards', 6)
    dataset = WebDatasetShards(tmp_path / 'shards', image_size=32)

    def loader() -> ResumableDataLoader:
        sampler = EpochRandomSampler(len(dataset), seed=5)
        sampler.set_epoch(3)
        return ResumableDataLoader(
            dataset,
            batch_size=4,
            sampler=sampler,
            num_workers=workers,
            collate_fn=collate_skipping_bad,
            generator=torch.Generator().manual_seed(0),
        )

    full = [batch['path'] for batch in loader()]
    interrupted = loader()
    iterator = iter(interrupted)
    before = [next(iterator)['path'] for _ in range(3)]
    state = interrupted.state_dict()
    del iterator
    resumed = loader()
    resumed.sampler.set_epoch(0)  # Lightning sets the epoch only after building the iterator
    resumed.load_state_dict(state)
    after = [batch['path'] for batch in resumed]
    assert before + after == full
    assert sorted(p for batch in full for p in batch) == sorted(map(str, dataset.image_paths))

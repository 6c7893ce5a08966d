import io
import json
import tarfile
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from rs_vlm.cli import main as rs_vlm_main
from rs_vlm.datasets import CaptionCSVDataset, load_image
from rs_vlm.datasets.webdataset_shards import WebDatasetShards
from rs_vlm.errors import CorpusError
from rs_vlm.io.webdataset_writer import open_corpus, write_shards


def _corpus(tmp_path: Path, make_image, count: int = 10) -> Path:
    rows = ['filepath\ttitle']
    for index in range(count):
        fmt, suffix = ('PNG', 'png') if index % 3 == 0 else ('JPEG', 'jpg')
        make_image(tmp_path / 'img' / f'{index}.{suffix}', (20 + index, 18), seed=index, fmt=fmt)
        rows += [
            f'img/{index}.{suffix}\tcaption {index} a',
            f'img/{index}.{suffix}\tcaption {index} b',
        ]
    path = tmp_path / 'corpus.tsv'
    path.write_text('\n'.join(rows) + '\n')
    return path


def test_cli_writes_shards_that_read_back_identically(tmp_path: Path, make_image, capsys) -> None:
    corpus_file = _corpus(tmp_path, make_image)
    out = tmp_path / 'shards'
    code = rs_vlm_main(
        ['shard', str(corpus_file), '--output', str(out), '--samples-per-shard', '4']
    )
    assert code == 0
    assert 'wrote 10 samples (20 captions) into 3 shards' in capsys.readouterr().out
    assert sorted(p.name for p in out.glob('*.tar')) == [f'shard-00000{i}.tar' for i in range(3)]
    assert not list(out.glob('.*.tmp'))
    with tarfile.open(out / 'shard-000000.tar') as archive:
        names = archive.getnames()
        assert names[:3] == ['000000000.png', '000000000.txt', '000000000.json']
        document = json.loads(archive.extractfile('000000001.json').read())
    assert document['captions'] == ['caption 1 a', 'caption 1 b']

    original = CaptionCSVDataset(corpus_file, mode='retrieval', image_size=None)
    for use_index in (True, False):
        source: Path | list[Path] = out
        if not use_index:
            # Without its index our writer's folder is refused as unfinished; the shard files
            # themselves are still read by scanning the tar headers.
            (out / 'index.json').unlink()
            with pytest.raises(CorpusError, match=r'no index\.json: the write did not finish'):
                WebDatasetShards(out, mode='retrieval', image_size=None)
            source = sorted(out.glob('*.tar'))
        shards = WebDatasetShards(source, mode='retrieval', image_size=None)
        assert len(shards) == 10
        assert shards.captions == original.captions
        assert shards.caption_to_image == original.caption_to_image
        for i in (0, 5, 9):
            assert torch.equal(shards[i]['image'], load_image(original.image_paths[i]))


def test_ranks_and_workers_see_each_sample_once(tmp_path: Path, make_image) -> None:
    corpus = open_corpus(_corpus(tmp_path, make_image, count=12))
    write_shards(corpus, tmp_path / 'shards', samples_per_shard=5)
    shards = WebDatasetShards(tmp_path / 'shards', mode='retrieval', image_size=8)
    seen: list[int] = []
    for rank in range(2):
        sampler = DistributedSampler(shards, num_replicas=2, rank=rank, shuffle=True, seed=3)
        sampler.set_epoch(1)
        loader = DataLoader(shards, batch_size=2, sampler=sampler, num_workers=2)
        for batch in loader:
            seen.extend(batch['index'].tolist())
    assert sorted(seen) == list(range(12))


def _tar_with(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, 'w') as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_unsafe_and_bad_members(tmp_path: Path, make_image) -> None:
    image = make_image(tmp_path / 'x.jpg').read_bytes()
    folder = tmp_path / 'evil'
    folder.mkdir()
    _tar_with(folder / 'a.tar', {'../up.jpg': image, '../up.txt': b'caption'})
    with pytest.raises(CorpusError, match=r"a.tar, key '\.\./up\.jpg': unsafe member name"):
        WebDatasetShards(folder)
    _tar_with(folder / 'a.tar', {'/abs.jpg': image, '/abs.txt': b'caption'})
    with pytest.raises(CorpusError, match='unsafe member name'):
        WebDatasetShards(folder)
    _tar_with(folder / 'a.tar', {'k1.jpg': image, 'k2.jpg': image, 'k2.txt': b'two'})
    with pytest.raises(CorpusError, match=r"key 'k1': sample has no caption"):
        WebDatasetShards(folder)
    skipping = WebDatasetShards(folder, on_error='skip', mode='retrieval')
    assert len(skipping) == 1 and skipping.num_skipped == 1
    _tar_with(folder / 'a.tar', {'k1.jpg': b'garbage', 'k1.txt': b'one'})
    with pytest.raises(CorpusError, match=r"a.tar, key 'k1.jpg': cannot read image"):
        WebDatasetShards(folder)[0]


def test_cli_reports_bad_input(tmp_path: Path, capsys) -> None:
    bad = tmp_path / 'bad.csv'
    bad.write_text('path,title\n')
    assert rs_vlm_main(['shard', str(bad), '--output', str(tmp_path / 'o')]) == 1
    assert "bad.csv, line 1, key 'filepath'" in capsys.readouterr().err

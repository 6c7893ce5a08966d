"""``rs-vlm shard`` into an existing set, killed part-way: the old set stays whole and usable.

The new set is written into a hidden staging folder beside the output and swapped in at the
end. A SIGKILL in the middle (after the first new shard is complete) must leave the old shards
and the old index exactly as they were, so images stay paired with their own captions; the
next run removes the dead run's staging folder and replaces the set. A folder whose index does
not describe its shards is refused.
"""

import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from corpus_helpers import write_caption_corpus

from rs_vlm.cli import main as rs_vlm
from rs_vlm.datasets.webdataset_shards import WebDatasetShards
from rs_vlm.errors import CorpusError


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def _pairs(folder: Path) -> list[tuple[str, list[str]]]:
    shards = WebDatasetShards(folder, mode='retrieval', image_size=None)
    return [(Path(p).name, c) for p, c in zip(shards.image_paths, shards.image_captions)]


@pytest.fixture
def old_set(tmp_path: Path) -> tuple[Path, Path]:
    old_csv = write_caption_corpus(tmp_path / 'old', 8, seed=1)
    output = tmp_path / 'shards'
    assert rs_vlm(['shard', str(old_csv), '--output', str(output), '--samples-per-shard', '3']) == 0
    new_csv = write_caption_corpus(tmp_path / 'new', 20, seed=2)
    return output, new_csv


def test_kill_mid_run_keeps_the_old_set_then_a_rerun_replaces_it(old_set, tmp_path) -> None:
    output, new_csv = old_set
    before, pairs_before = _snapshot(output), _pairs(output)
    # The writer's process kills itself (no cleanup) while reading the 8th image of the new
    # corpus, i.e. after two new shards of 3 are complete.
    script = textwrap.dedent(
        f"""
        import os, signal, pathlib
        real = pathlib.Path.read_bytes
        count = 0
        def read_bytes(self):
            global count
            if self.suffix == '.jpg':
                count += 1
                if count == 8:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real(self)
        pathlib.Path.read_bytes = read_bytes
        from rs_vlm.cli import main
        main(['shard', {str(new_csv)!r}, '--output', {str(output)!r}, '--samples-per-shard', '3'])
        """
    )
    process = subprocess.run([sys.executable, '-c', script], capture_output=True, timeout=300)
    assert process.returncode == -signal.SIGKILL, process.stderr[-2000:]
    assert _snapshot(output) == before
    assert _pairs(output) == pairs_before
    staging = [p for p in tmp_path.iterdir() if p.name.startswith('.shards.')]
    # The dead run's staging folder: two complete new shards and the third half-written.
    assert len(staging) == 1 and len(list(staging[0].glob('*.tar'))) == 3

    assert rs_vlm(['shard', str(new_csv), '--output', str(output), '--samples-per-shard', '3']) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.shards.')]
    assert sorted(p.name for p in output.iterdir()) == [
        'index.json',
        *[f'shard-{i:06d}.tar' for i in range(7)],
    ]
    pairs = _pairs(output)
    assert len(pairs) == 20
    rows = new_csv.read_text(encoding='utf-8').splitlines()[1:]
    captions_of = {}
    for row in rows:
        name, caption = row.split(',', 1)
        captions_of.setdefault(Path(name).name, []).append(caption)
    for (_, captions), (image, want) in zip(pairs, captions_of.items(), strict=True):
        assert captions == want, image


def test_index_that_does_not_match_its_folder_is_refused(old_set) -> None:
    output, _ = old_set
    stray = output / 'shard-000009.tar'
    shutil.copy(output / 'shard-000000.tar', stray)
    with pytest.raises(CorpusError, match=r'does not list the shards shard-000009\.tar'):
        WebDatasetShards(output)
    stray.unlink()
    (output / 'shard-000001.tar').unlink()
    with pytest.raises(CorpusError, match=r'lists shards that are missing: shard-000001\.tar'):
        WebDatasetShards(output)


def test_truncated_shard_is_refused_by_its_index(old_set) -> None:
    output, _ = old_set
    shard = output / 'shard-000002.tar'
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorpusError, match='truncated') as info:
        WebDatasetShards(output)
    assert str(shard) in str(info.value)


def test_folder_with_other_files_is_not_replaced(tmp_path: Path, capsys) -> None:
    csv_path = write_caption_corpus(tmp_path / 'src', 4)
    output = tmp_path / 'mixed'
    output.mkdir()
    (output / 'notes.txt').write_text('keep me', encoding='utf-8')
    assert rs_vlm(['shard', str(csv_path), '--output', str(output)]) == 1
    assert 'holds other files than tar shards and index.json (notes.txt)' in capsys.readouterr().err
    assert (output / 'notes.txt').read_text(encoding='utf-8') == 'keep me'

"""A kill or an error in the middle of writing leaves the previous file intact.

Faults injected: SIGKILL of a process while it is half-way through an atomic write (the shared
``rs_vlm.atomic`` mechanism behind checkpoints, exports and corpus files), and an exception
thrown by the serialiser half-way through writing a checkpoint, an export and a corpus file.
"""

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from rs_vlm.atomic import STALE_AFTER_S, is_stale_temporary, owner_tag
from rs_vlm.conversion import CorpusWriter
from rs_vlm.models import create_clip, read_state_dict
from rs_vlm.models.export import export_checkpoint
from rs_vlm.reliability import AtomicCheckpointIO, remove_stale_temporaries


def _temporaries(target: Path) -> list[Path]:
    return sorted(target.parent.glob(f'.{target.name}.*.tmp'))


def _failing_save(real_save):
    """A ``torch.save`` that writes half of the real bytes, then fails like a full disk."""

    def save(obj, destination, *args, **kwargs) -> None:
        import io

        buffer = io.BytesIO()
        real_save(obj, buffer)
        data = buffer.getvalue()
        if hasattr(destination, 'write'):  # a file object (AtomicCheckpointIO) or a path
            destination.write(data[: len(data) // 2])
        else:
            with open(destination, 'wb') as handle:
                handle.write(data[: len(data) // 2])
        raise OSError(28, 'No space left on device')

    return save


def test_kill_during_atomic_write_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / 'last.ckpt'
    script = textwrap.dedent(
        f"""
        import sys, time
        from rs_vlm.atomic import atomic_path
        target = {str(target)!r}
        with atomic_path(target) as tmp:
            tmp.write_bytes(b'old complete checkpoint')
        with atomic_path(target) as tmp, open(tmp, 'wb') as handle:
            handle.write(b'new but only half')
            handle.flush()
            print('writing', flush=True)
            time.sleep(120)
            handle.write(b' written')
        """
    )
    process = subprocess.Popen(
        [sys.executable, '-c', script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == 'writing', process.stderr.read()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert target.read_bytes() == b'old complete checkpoint'
    stale = _temporaries(target)
    assert len(stale) == 1 and stale[0].read_bytes() == b'new but only half'
    # Re-running completes, and cleans up what the killed writer left.
    AtomicCheckpointIO().save_checkpoint({'step': torch.tensor(7)}, target)
    assert _temporaries(target) == []
    assert AtomicCheckpointIO().load_checkpoint(target)['step'].item() == 7


def test_checkpoint_io_error_mid_write_keeps_previous(tmp_path: Path, monkeypatch) -> None:
    io_plugin = AtomicCheckpointIO()
    target = tmp_path / 'ckpts' / 'last.ckpt'
    io_plugin.save_checkpoint({'weights': torch.arange(4.0)}, target)
    before = target.read_bytes()
    monkeypatch.setattr(torch, 'save', _failing_save(torch.save))
    with pytest.raises(OSError, match='No space left'):
        io_plugin.save_checkpoint({'weights': torch.arange(1000.0)}, target)
    assert target.read_bytes() == before
    assert _temporaries(target) == []
    monkeypatch.undo()
    io_plugin.save_checkpoint({'weights': torch.arange(1000.0)}, target)
    assert torch.equal(io_plugin.load_checkpoint(target)['weights'], torch.arange(1000.0))


def test_export_error_mid_write_keeps_previous(tmp_path: Path, monkeypatch) -> None:
    model = create_clip('rs-vit-tiny')
    source = tmp_path / 'weights.pt'
    torch.save(model.state_dict(), source)
    output = tmp_path / 'export' / 'model.pt'
    export_checkpoint(source, output, model_name='rs-vit-tiny')
    before = output.read_bytes()
    with torch.no_grad():
        model.logit_scale.fill_(1.0)
    torch.save(model.state_dict(), source)
    monkeypatch.setattr(torch, 'save', _failing_save(torch.save))
    with pytest.raises(OSError):
        export_checkpoint(source, output, model_name='rs-vit-tiny')
    assert output.read_bytes() == before
    assert _temporaries(output) == []
    monkeypatch.undo()
    export_checkpoint(source, output, model_name='rs-vit-tiny')
    assert read_state_dict(output)[0]['logit_scale'].item() == 1.0


def test_corpus_writer_error_mid_write_keeps_previous(tmp_path: Path) -> None:
    output = tmp_path / 'corpus.csv'
    with CorpusWriter(output) as writer:
        writer.write('a.jpg', ['one plane', 'a plane'])
    before = output.read_text(encoding='utf-8')
    with pytest.raises(RuntimeError, match='reader failed'):
        with CorpusWriter(output) as writer:
            writer.write_many((f'{i}.jpg', ['a ship'] * 5) for i in range(1000))
            raise RuntimeError('reader failed half-way')
    assert output.read_text(encoding='utf-8') == before
    assert _temporaries(output) == []


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, '-c', 'pass'])
    process.wait()
    return process.pid


def test_remove_stale_temporaries_only_touches_that_target(tmp_path: Path) -> None:
    host = owner_tag().rsplit('-', 1)[0]
    dead = f'{host}-{_dead_pid()}'
    (tmp_path / f'.last.ckpt.{dead}.abc.tmp').write_bytes(b'x')
    (tmp_path / f'.other.ckpt.{dead}.abc.tmp').write_bytes(b'y')
    (tmp_path / 'last.ckpt').write_bytes(b'z')
    removed = remove_stale_temporaries(tmp_path / 'last.ckpt')
    assert [path.name for path in removed] == [f'.last.ckpt.{dead}.abc.tmp']
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f'.other.ckpt.{dead}.abc.tmp',
        'last.ckpt',
    ]


def test_a_running_writers_temporary_is_kept(tmp_path: Path) -> None:
    """Two runs sharing a checkpoint folder: one's save must not delete the other's temporary."""
    sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        host = owner_tag().rsplit('-', 1)[0]
        alive = tmp_path / f'.last.ckpt.{host}-{sleeper.pid}.abc.tmp'
        alive.write_bytes(b'half-written by another run')
        dead = tmp_path / f'.last.ckpt.{host}-{_dead_pid()}.def.tmp'
        dead.write_bytes(b'left by a killed run')
        AtomicCheckpointIO().save_checkpoint({'step': torch.tensor(3)}, tmp_path / 'last.ckpt')
        assert alive.read_bytes() == b'half-written by another run'
        assert not dead.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_temporaries_of_other_hosts_or_untagged_wait_a_day(tmp_path: Path) -> None:
    remote = tmp_path / '.last.ckpt.otherhost-1.abc.tmp'
    untagged = tmp_path / '.last.ckpt.xyz.tmp'
    for path in (remote, untagged):
        path.write_bytes(b'x')
    now = remote.stat().st_mtime
    for path in (remote, untagged):
        assert not is_stale_temporary(path, 'last.ckpt', now=now + STALE_AFTER_S - 60)
        assert is_stale_temporary(path, 'last.ckpt', now=now + STALE_AFTER_S + 60)


def test_full_disk_during_checkpoint_save_names_enospc_and_path(
    tmp_path: Path, monkeypatch
) -> None:
    """torch's zip writer turns the file's ENOSPC into "unexpected pos"; we say ENOSPC.

    The fake is what a 300 KB tmpfs produced: the OSError from the file's write, then torch's
    RuntimeError raised while handling it.
    """
    target = tmp_path / 'last.ckpt'
    AtomicCheckpointIO().save_checkpoint({'step': torch.tensor(1)}, target)
    before = target.read_bytes()

    def full_disk(obj: object, handle, *args: object, **kwargs: object) -> None:
        handle.write(b'PK\x03\x04')
        try:
            raise OSError(errno.ENOSPC, 'No space left on device')
        except OSError:
            raise RuntimeError(  # noqa: B904 (torch chains it implicitly, as here)
                '[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598'
            )

    monkeypatch.setattr(torch, 'save', full_disk)
    with pytest.raises(OSError) as caught:
        AtomicCheckpointIO().save_checkpoint({'step': torch.tensor(2)}, target)
    assert caught.value.errno == errno.ENOSPC
    assert 'ENOSPC' in str(caught.value) and str(target) in str(caught.value)
    assert target.read_bytes() == before
    assert _temporaries(target) == []

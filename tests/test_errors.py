import pickle

import pytest

from rs_vlm.atomic import atomic_write
from rs_vlm.errors import AnnotationError, CorpusError, InputError


def test_message_names_file_line_and_key() -> None:
    assert (
        str(CorpusError('a.csv', 'expected a title', line=3)) == 'a.csv, line 3: expected a title'
    )
    assert str(AnnotationError('x.json', 'not a list', key='annotations')) == (
        "x.json, key 'annotations': not a list"
    )


def test_errors_keep_type_and_fields_across_pickling() -> None:
    error = CorpusError('a.csv', 'bad caption', line=7, key='title')
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is CorpusError
    assert isinstance(restored, InputError)
    assert (restored.path, restored.reason, restored.line, restored.key) == (
        'a.csv',
        'bad caption',
        7,
        'title',
    )
    assert str(restored) == str(error)


def test_atomic_write_keeps_previous_file_on_error(tmp_path) -> None:
    target = tmp_path / 'corpus.csv'
    target.write_text('old\n')
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write('new, half written')
        raise RuntimeError('killed')
    assert target.read_text() == 'old\n'
    assert [p.name for p in tmp_path.iterdir()] == ['corpus.csv']
    with atomic_write(target) as handle:
        handle.write('new\n')
    assert target.read_text() == 'new\n'


def test_atomic_write_uses_umask_permissions(tmp_path) -> None:
    import os

    umask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / 'a.txt') as handle:
            handle.write('x')
    finally:
        os.umask(umask)
    assert (tmp_path / 'a.txt').stat().st_mode & 0o777 == 0o644

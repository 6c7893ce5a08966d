"""CSV/TSV caption tables parsed by the csv module: physical lines, stray quotes, odd breaks.

Files are written as bytes, the way a spreadsheet or a script would save them; expected
captions and line numbers are counted by hand from the text.
"""

from pathlib import Path

import pytest

from rs_vlm.csv_input import MAX_ROW_LINES
from rs_vlm.datasets.caption_csv import read_caption_csv
from rs_vlm.datasets.remote_count import RemoteCount
from rs_vlm.errors import CorpusError, InputError
from rs_vlm.prediction.inputs import read_captions


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode('utf-8'))
    return path


@pytest.mark.parametrize('separator', ['\u2028', '\u2029', '\x85', '\x0c', '\x0b', '\x1c'])
def test_unicode_line_separators_stay_inside_a_caption(tmp_path: Path, separator: str) -> None:
    text = f'filepath,title\na.jpg,a ship{separator}in port\nb.jpg,\n'
    path = _write(tmp_path / 'c.csv', text)
    with pytest.raises(CorpusError, match=r"line 3, key 'title': empty caption"):
        read_caption_csv(path)
    _write(path, f'filepath,title\na.jpg,a ship{separator}in port\nb.jpg,two planes\n')
    names, captions, lines = read_caption_csv(path)
    assert [n.name for n in names] == ['a.jpg', 'b.jpg']
    assert captions == [[f'a ship{separator}in port'], ['two planes']]
    assert lines == [2, 3]


def test_quoted_multiline_caption_keeps_its_newline_and_lines_stay_physical(
    tmp_path: Path,
) -> None:
    text = 'filepath,title\r\na.jpg,"first line\r\nsecond line\r\nthird"\r\nb.jpg,\r\n'
    path = _write(tmp_path / 'c.csv', text)
    with pytest.raises(CorpusError, match='line 5'):  # b.jpg is on physical line 5
        read_caption_csv(path)
    _write(path, 'filepath,title\na.jpg,"first line\nsecond line"\nb.jpg,plane\na.jpg,more\n')
    _, captions, lines = read_caption_csv(path)
    assert captions == [['first line\nsecond line', 'more'], ['plane']]
    assert lines == [2, 4]


def test_stray_quote_never_closed_names_its_line(tmp_path: Path) -> None:
    rows = ''.join(f'img{i}.jpg,caption {i}\n' for i in range(200))
    text = f'filepath,title\na.jpg,fine\nb.jpg,"a ship\n{rows}'
    with pytest.raises(CorpusError, match=r'c\.csv, line 3: .*quoted field is never closed'):
        read_caption_csv(_write(tmp_path / 'c.csv', text))


def test_stray_quotes_closing_far_away_name_the_opening_line(tmp_path: Path) -> None:
    rows = ''.join(f'img{i}.jpg,caption {i}\n' for i in range(MAX_ROW_LINES + 5))
    text = f'filepath,title\nb.jpg,"a ship\n{rows}z.jpg,the end"\n'
    with pytest.raises(CorpusError, match=r'line 2: a quoted field runs over 3[0-9] lines'):
        read_caption_csv(_write(tmp_path / 'c.csv', text))


def test_quote_inside_a_quoted_field_is_an_error_with_a_hint(tmp_path: Path) -> None:
    text = 'filepath,title\na.jpg,fine\nb.jpg,"big" ship\n'
    with pytest.raises(CorpusError, match=r'line 3: malformed CSV: .*""big""'):
        read_caption_csv(_write(tmp_path / 'c.csv', text))
    # a quote inside an unquoted field is plain text, as in the csv module
    _write(tmp_path / 'd.csv', 'filepath,title\nb.jpg,a 12" gun\n')
    assert read_caption_csv(tmp_path / 'd.csv')[1] == [['a 12" gun']]


def test_caption_over_the_field_limit_is_a_clear_error(tmp_path: Path) -> None:
    text = 'filepath,title\na.jpg,short\nb.jpg,' + 'x' * 140_000 + '\n'
    with pytest.raises(CorpusError, match=r'line 3: malformed CSV: a field is longer than 131,072'):
        read_caption_csv(_write(tmp_path / 'c.csv', text))


def test_every_csv_reader_shares_the_parser(tmp_path: Path) -> None:
    quoted = 'filepath,title\na.jpg,"a\nb"\nb.jpg,"open\n'
    with pytest.raises(InputError, match=r'line 4: .*never closed'):
        read_captions(_write(tmp_path / 'captions.csv', quoted))
    counting = 'filepath,caption,class_name,count\na.jpg,"three\u2028ships",ship,3\nb.jpg,"x\n'
    _write(tmp_path / 'count.csv', counting)
    with pytest.raises(CorpusError, match=r'line 3: .*never closed'):
        RemoteCount(tmp_path, annotations='count.csv', on_error='skip')
    digits = 'filepath,caption,class_name,count\na.jpg,three ships,ship,' + '3' * 5000 + '\n'
    _write(tmp_path / 'count.csv', digits)
    with pytest.raises(CorpusError, match="line 2, key 'count': count '3333"):
        RemoteCount(tmp_path, annotations='count.csv')

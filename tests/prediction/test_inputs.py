"""Class, template and caption files: what is read, and errors that name file and line."""

from pathlib import Path

import pytest

from rs_vlm.datasets.scene_classes import DEFAULT_TEMPLATES
from rs_vlm.errors import InputError
from rs_vlm.prediction import find_images, read_captions, read_class_names, read_templates
from rs_vlm.prediction.inputs import parse_class_list


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding='utf-8')
    return path


def test_class_list_and_file(tmp_path: Path) -> None:
    assert parse_class_list(' forest, river ,dense residential') == [
        'forest', 'river', 'dense residential'
    ]  # fmt: skip
    with pytest.raises(InputError, match=r'--classes: class 2 is empty'):
        parse_class_list('forest,,river')
    names = _write(tmp_path / 'classes.txt', '# scene types\nforest\n\n  river  \nharbor\n')
    assert read_class_names(names) == ['forest', 'river', 'harbor']
    repeated = _write(tmp_path / 'repeated.txt', 'forest\nriver\nForest\n')
    with pytest.raises(InputError, match=r"repeated\.txt, line 3: class 'Forest' repeats line 1"):
        read_class_names(repeated)
    with pytest.raises(InputError, match='no class names'):
        read_class_names(_write(tmp_path / 'blank.txt', '\n# nothing\n'))
    with pytest.raises(InputError, match='no such file'):
        read_class_names(tmp_path / 'missing.txt')
    latin1 = tmp_path / 'latin1.txt'
    latin1.write_bytes('forest\nr\xe9servoir\n'.encode('latin-1'))
    with pytest.raises(InputError, match=r'latin1\.txt, line 2: not valid UTF-8'):
        read_class_names(latin1)


def test_templates(tmp_path: Path) -> None:
    assert read_templates(None) == read_templates('default') == DEFAULT_TEMPLATES
    good = _write(tmp_path / 'good.txt', 'a photo of a {}.\n\n# comment\n{} seen from above\n')
    assert read_templates(good) == ['a photo of a {}.', '{} seen from above']
    for text, message in [
        ('a photo of a {}.\nno slot here\n', "line 2: template 'no slot here' has 0"),
        ('{} and {}\n', r"line 1: template '\{\} and \{\}' has 2 "),
        ('{0} and {0}\n', r"line 1: .*has the slot '\{0\}'; only a bare \{\} is allowed"),
        ('a photo of {name}\n', r"line 1: .*has the slot '\{name\}'"),
        ('ok {}\nbroken {\n', 'line 2: .*unbalanced braces'),
        # format specs would build gigabyte prompts or read attributes: refused unfilled
        ('a photo of {:>999999999}\n', r"line 1: .*has the slot '\{:>999999999\}'"),
        ('{!r:^99999999}\n', r"slot '\{!r:\^99999999\}'"),
        ('{0.__class__}\n', r"slot '\{0.__class__\}'"),
    ]:
        with pytest.raises(InputError, match=message):
            read_templates(_write(tmp_path / 'bad.txt', text))
    assert read_templates(_write(tmp_path / 'braces.txt', '{{literal}} {}\n')) == ['{{literal}} {}']


def test_captions(tmp_path: Path) -> None:
    assert read_captions(_write(tmp_path / 'c.txt', 'one, two\n\nthree\n')) == [
        'one, two', 'three'
    ]  # fmt: skip
    tsv = _write(tmp_path / 'c.tsv', 'filepath\ttitle\nx.jpg\tfirst\ny.jpg\tsecond\n')
    assert read_captions(tsv) == ['first', 'second']
    headed = _write(tmp_path / 'c.list', 'title,source\n"a, quoted",x\nplain,y\n')
    assert read_captions(headed) == ['a, quoted', 'plain']
    with pytest.raises(InputError, match=r"c2\.csv, line 1, key 'title': missing column"):
        read_captions(_write(tmp_path / 'c2.csv', 'filepath,caption\nx.jpg,hello\n'))
    with pytest.raises(InputError, match=r"c3\.csv, line 3, key 'title': empty caption"):
        read_captions(_write(tmp_path / 'c3.csv', 'filepath,title\nx.jpg,hi\ny.jpg,  \n'))
    with pytest.raises(InputError, match='no captions'):
        read_captions(_write(tmp_path / 'empty.txt', '\n\n'))


def test_find_images(tmp_path: Path) -> None:
    # .bmp too: predict reads every suffix the datasets read (rs_vlm.image_files)
    for name in ['b/z.TIF', 'b/y.jpeg', 'a.png', 'c/x.bmp', 'd/readme.md', 'd/w.webp.txt']:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b'')
    found = find_images(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        'a.png', 'b/y.jpeg', 'b/z.TIF', 'c/x.bmp'
    ]  # fmt: skip
    assert find_images([tmp_path / 'c' / 'x.bmp', tmp_path / 'b']) == [
        tmp_path / 'c' / 'x.bmp', tmp_path / 'b' / 'y.jpeg', tmp_path / 'b' / 'z.TIF'
    ]  # fmt: skip
    with pytest.raises(InputError, match=r'd: no image files found; expected .*\.bmp.*\.jpg'):
        find_images(tmp_path / 'd')

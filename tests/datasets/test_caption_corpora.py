import json
import tarfile
from pathlib import Path

import pytest
from torchvision.datasets.utils import calculate_md5

from rs_vlm.datasets import (
    RSICD,
    RSITMD,
    JSONLCaptionDataset,
    KarpathyCaptionDataset,
    PrecompCaptionDataset,
    SydneyCaptions,
    UCMCaptions,
)
from rs_vlm.errors import CorpusError
from rs_vlm.io.download import ArchiveError, MissingDatasetError


def _distinct_lines(path: Path) -> int:
    return len({line.strip() for line in path.read_text().splitlines() if line.strip()})


@pytest.mark.parametrize(
    ('cls', 'folder', 'images', 'captions'),
    [
        (RSICD, 'rsicd_precomp', 1093, 5465),
        (RSITMD, 'rsitmd_precomp', 452, 2260),
        (UCMCaptions, 'ucm_precomp_pe_rsitr', 210, 1050),
        (SydneyCaptions, 'sydney_precomp_jgdn', 28, 140),
    ],
)
def test_real_test_splits_have_the_published_counts(
    real_fixtures: Path, cls: type, folder: str, images: int, captions: int
) -> None:
    root = real_fixtures / 'captions' / folder
    dataset = cls(root, split='test', check_files=False)
    assert dataset.mode == 'retrieval'
    assert len(dataset) == images == _distinct_lines(root / 'test_filename.txt')
    assert len(dataset.captions) == captions
    assert len(dataset.caption_to_image) == captions
    assert all(len(group) == 5 for group in dataset.image_captions)
    # caption k of the file belongs to the image named on line k (or block k // 5)
    names = [line.strip() for line in (root / 'test_filename.txt').read_text().splitlines()]
    caps = [line.strip() for line in (root / 'test_caps.txt').read_text().splitlines()]
    for k in (0, 7, captions - 1):
        name = names[k] if len(names) == len(caps) else names[k // 5]
        assert dataset.image_paths[dataset.caption_to_image[k]].name == name
        assert dataset.captions[k] == caps[k]


def test_real_rsitmd_train_has_empty_captions_raise_or_skip(real_fixtures: Path) -> None:
    root = real_fixtures / 'captions' / 'rsitmd_precomp'
    with pytest.raises(CorpusError, match=r'train_caps.txt, line \d+: empty caption'):
        RSITMD(root, split='train', check_files=False)
    dataset = RSITMD(root, split='train', check_files=False, on_error='skip')
    assert dataset.mode == 'train'
    caps = (root / 'train_caps.txt').read_text().splitlines()
    blocks = [caps[i : i + 5] for i in range(0, len(caps), 5)]
    empty_lines = sum(not line.strip() for line in caps)
    empty_images = sum(all(not line.strip() for line in block) for block in blocks)
    assert (len(blocks), empty_lines, empty_images) == (4291, 20, 4)
    assert len(dataset) == 4291 - 4
    assert dataset.num_skipped == 20 + 4  # each empty line, then each image left without any
    assert len(dataset.captions) == 21455 - 20


def test_real_rsicd_train_blocks_of_five(real_fixtures: Path) -> None:
    root = real_fixtures / 'captions' / 'rsicd_precomp'
    dataset = RSICD(root, split='train', check_files=False, mode='retrieval')
    assert len(dataset) == 9828
    assert len(dataset.captions) == 49140
    # stadium_1.jpg's captions are lines 35491-35495 of train_caps.txt
    lines = (root / 'train_caps.txt').read_text().splitlines()
    index = [path.name for path in dataset.image_paths].index('stadium_1.jpg')
    assert dataset.image_captions[index] == [line.strip() for line in lines[35490:35495]]


def test_real_jsonl(real_fixtures: Path) -> None:
    path = real_fixtures / 'captions' / 'rsicd_textaug_arampacha' / 'textaug_test_rsicd.jsonl'
    dataset = JSONLCaptionDataset(path, check_files=False, mode='retrieval')
    assert len(dataset) == 1093
    assert len(dataset.captions) == 5465
    assert dataset.image_paths[0] == path.parent / 'rsicd_images' / 'airport_348.jpg'


def _write_precomp(folder: Path, make_image, per_caption_names: bool) -> None:
    names = ['a.jpg', 'b.jpg', 'c.jpg']
    for index, name in enumerate(names):
        make_image(folder / 'images' / name, seed=index)
    caps = [f'caption {i} of {name}' for name in names for i in range(5)]
    (folder / 'test_caps.txt').write_text('\n'.join(caps) + '\n')
    listed = [name for name in names for _ in range(5)] if per_caption_names else names
    (folder / 'test_filename.txt').write_text('\n'.join(listed) + '\n')


@pytest.mark.parametrize('per_caption_names', [True, False])
def test_both_precomp_variants_read_the_same(tmp_path: Path, make_image, per_caption_names) -> None:
    _write_precomp(tmp_path, make_image, per_caption_names)
    dataset = PrecompCaptionDataset(
        tmp_path / 'test_caps.txt',
        tmp_path / 'test_filename.txt',
        tmp_path / 'images',
        mode='retrieval',
        image_size=None,
    )
    assert [p.name for p in dataset.image_paths] == ['a.jpg', 'b.jpg', 'c.jpg']
    assert dataset.caption_to_image == [0] * 5 + [1] * 5 + [2] * 5
    assert dataset.captions[6] == 'caption 1 of b.jpg'
    sample = dataset[2]
    assert int(sample['index']) == 2 and sample['image'].shape == (3, 30, 40)


def test_mismatched_precomp_line_counts(tmp_path: Path, make_image) -> None:
    _write_precomp(tmp_path, make_image, per_caption_names=True)
    with (tmp_path / 'test_caps.txt').open('a') as handle:
        handle.write('one more\n')
    with pytest.raises(CorpusError, match=r'16 caption lines do not match the 15 file names'):
        PrecompCaptionDataset(
            tmp_path / 'test_caps.txt', tmp_path / 'test_filename.txt', tmp_path / 'images'
        )


def _karpathy(tmp_path: Path, make_image) -> Path:
    images = []
    for index, split in enumerate(['train', 'train', 'val', 'test', 'test']):
        name = f'{split}{index}.jpg'
        make_image(tmp_path / 'images' / name, seed=index)
        sentences = [{'raw': f'{name} says {k}', 'tokens': []} for k in range(5)]
        images.append({'filename': name, 'split': split, 'sentences': sentences, 'imgid': index})
    path = tmp_path / 'dataset_rsicd.json'
    path.write_text(json.dumps({'images': images, 'dataset': 'rsicd'}))
    return path


def test_karpathy_json_splits(tmp_path: Path, make_image) -> None:
    path = _karpathy(tmp_path, make_image)
    test = KarpathyCaptionDataset(path, tmp_path / 'images', split='test', mode='retrieval')
    assert [p.name for p in test.image_paths] == ['test3.jpg', 'test4.jpg']
    assert test.captions[5] == 'test4.jpg says 0'
    rsicd = RSICD(tmp_path, split='train')
    assert len(rsicd) == 2 and rsicd.mode == 'train'
    assert rsicd[0]['caption'].startswith('train0.jpg says')


def test_karpathy_bad_entries_name_the_key(tmp_path: Path, make_image) -> None:
    path = _karpathy(tmp_path, make_image)
    document = json.loads(path.read_text())
    document['images'][3]['sentences'][2] = {'raw': 7}
    path.write_text(json.dumps(document))
    with pytest.raises(CorpusError, match=r"key 'images\[3\].sentences\[2\].raw'"):
        KarpathyCaptionDataset(path, tmp_path / 'images')
    path.write_text('{"images": [')
    with pytest.raises(CorpusError, match='not valid JSON'):
        KarpathyCaptionDataset(path, tmp_path / 'images')


def test_missing_dataset_says_where_to_put_files(tmp_path: Path) -> None:
    with pytest.raises(MissingDatasetError) as info:
        UCMCaptions(tmp_path / 'ucm', split='test')
    message = str(info.value)
    assert str(tmp_path / 'ucm' / 'test_caps.txt') in message
    assert 'dataset_ucm.json' in message and 'RSICD_optimal' in message


def _served_archive(folder: Path, make_image, members: dict[str, Path]) -> Path:
    archive = folder / 'corpus.tar.gz'
    with tarfile.open(archive, 'w:gz') as handle:
        for name, source in members.items():
            handle.add(source, arcname=name)
    return archive


def test_download_from_loopback_server(tmp_path: Path, make_image, http_root) -> None:
    served, base_url = http_root
    staging = tmp_path / 'staging'
    staging.mkdir()
    _write_precomp(staging, make_image, per_caption_names=False)
    members = {
        'test_caps.txt': staging / 'test_caps.txt',
        'test_filename.txt': staging / 'test_filename.txt',
        **{f'images/{n}': staging / 'images' / n for n in ('a.jpg', 'b.jpg', 'c.jpg')},
    }
    archive = _served_archive(served, make_image, members)

    class ServedRSICD(RSICD):
        url = f'{base_url}/corpus.tar.gz'
        filename = 'corpus.tar.gz'
        md5 = calculate_md5(archive)

    root = tmp_path / 'root'
    with pytest.raises(MissingDatasetError, match='download=True'):
        ServedRSICD(root, split='test')
    dataset = ServedRSICD(root, split='test', download=True, checksum=True)
    assert len(dataset) == 3 and len(dataset.captions) == 15
    assert dataset[0]['image'].shape == (3, 224, 224)

    class WrongChecksum(ServedRSICD):
        md5 = '0' * 32

    with pytest.raises(ArchiveError, match='does not match'):
        WrongChecksum(tmp_path / 'other', split='test', download=True, checksum=True)
    assert not (tmp_path / 'other' / 'corpus.tar.gz').exists()
    # the mirror as arguments of the stock class, as a config would give them
    mirrored = RSICD(
        tmp_path / 'mirror', split='test', download=True, checksum=True,
        url=f'{base_url}/corpus.tar.gz', md5=calculate_md5(archive),
    )  # fmt: skip
    assert len(mirrored.captions) == 15 and (tmp_path / 'mirror' / 'corpus.tar.gz').is_file()


def test_archive_with_parent_member_is_refused(tmp_path: Path, make_image, http_root) -> None:
    served, base_url = http_root
    evil = tmp_path / 'evil.txt'
    evil.write_text('x')
    _served_archive(served, make_image, {'../planted.txt': evil})

    class Evil(RSICD):
        url = f'{base_url}/corpus.tar.gz'
        filename = 'corpus.tar.gz'

    with pytest.raises(ArchiveError, match='unsafe member name'):
        Evil(tmp_path / 'root', split='test', download=True)
    assert not (tmp_path / 'planted.txt').exists()

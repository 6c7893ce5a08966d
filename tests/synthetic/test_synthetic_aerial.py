"""SyntheticAerial: determinism, the four task contracts, captions true to the rendered scene."""

import re
from collections import Counter

import matplotlib
import open_clip
import pytest
import torch
from torch.utils.data import ConcatDataset

from rs_vlm.conversion import mask_to_boxes
from rs_vlm.evaluation.counting import find_count
from rs_vlm.synthetic.aerial import SyntheticAerial
from rs_vlm.synthetic.shapes import OBJECT_CLASSES

matplotlib.use('agg')

PLURALS = {
    'airplane': 'airplanes',
    'ship': 'ships',
    'storage tank': 'storage tanks',
    'vehicle': 'vehicles',
    'building': 'buildings',
    'tree': 'trees',
}


def phrase(name: str, count: int) -> str:
    """How B2C writes ``count`` objects of a class (counts here are at most 10)."""
    if count == 1:
        return ('an ' if name[0] in 'aeiou' else 'a ') + name
    return f'{count} {PLURALS[name]}'


def mentioned_counts(text: str) -> dict[str, int]:
    """Counts stated in a B2C caption, parsed independently of B2C's code."""
    found: dict[str, int] = {}
    for name, plural in PLURALS.items():
        match = re.search(rf'\b(\d+) {plural}\b', text)
        if match:
            found[name] = int(match.group(1))
        elif re.search(rf'\b(a|an) {name}\b', text, flags=re.IGNORECASE):
            found[name] = 1
    return found


def test_same_seed_same_world_and_other_seeds_differ() -> None:
    first = SyntheticAerial(split='val', length=14, seed=5)
    second = SyntheticAerial(split='val', length=14, seed=5, cache=False)
    other_seed = SyntheticAerial(split='val', length=14, seed=6)
    other_split = SyntheticAerial(split='test', length=14, seed=5)
    for index in range(14):
        assert torch.equal(first[index]['image'], second[index]['image'])
        assert first.captions_of(index) == second.captions_of(index)
        assert not torch.equal(first[index]['image'], other_seed[index]['image'])
        assert not torch.equal(first[index]['image'], other_split[index]['image'])
    differing = sum(first.captions_of(i) != other_seed.captions_of(i) for i in range(14))
    assert differing >= 10


def test_image_is_a_pure_function_of_seed_split_and_index() -> None:
    """Access order and dataset length do not change an image."""
    forward = SyntheticAerial(split='train', length=30, seed=1, cache=False)
    backward = SyntheticAerial(split='train', length=100, seed=1, cache=False)
    images = [forward[i]['image'] for i in range(30)]
    for index in reversed(range(30)):
        assert torch.equal(backward[index]['image'], images[index])


def test_caption_sample_contract_and_epoch_choice() -> None:
    dataset = SyntheticAerial(split='train', length=21)
    sample = dataset[3]
    assert set(sample) == {'image', 'caption'}
    image = sample['image']
    assert image.dtype == torch.float32
    assert image.shape == (3, 64, 64)
    assert 0 <= image.min() and image.max() <= 255 and image.max() > 1
    assert sample['caption'] in dataset.captions_of(3)
    # (index, epoch) keys: the same key gives the same caption; epochs vary the choice.
    assert dataset[(3, 7)]['caption'] == dataset[(3, 7)]['caption']
    chosen = {dataset[(3, epoch)]['caption'] for epoch in range(30)}
    assert len(chosen) >= 4
    assert chosen <= set(dataset.captions_of(3))
    dataset.set_epoch(7)
    assert dataset[3]['caption'] == dataset[(3, 7)]['caption']


def test_tokenizer_adds_text_of_the_chosen_caption() -> None:
    tokenizer = open_clip.get_tokenizer('ViT-B-32')
    dataset = SyntheticAerial(length=7, tokenizer=tokenizer)
    for epoch in range(6):
        sample = dataset[(2, epoch)]
        assert torch.equal(sample['text'], tokenizer([sample['caption']])[0])
    with pytest.raises(ValueError, match='tokenizer'):
        SyntheticAerial(length=7).tokens_of(0)


def test_five_captions_name_the_scene_and_state_true_counts() -> None:
    dataset = SyntheticAerial(split='val', length=70)
    for index in range(70):
        scene = dataset.render(index)
        counts = scene.counts
        primary = scene.scene_type.primary
        captions = dataset.captions_of(index)
        assert len(captions) == 5
        assert len(set(captions)) == 5
        sentences, objects = zip(*(caption.split(' . ', 1) for caption in captions))
        for sentence in sentences:
            # The scene sentence names the scene and the counted class's rendered count.
            assert scene.scene_type.name in sentence.lower()
            count = counts[primary]
            noun = primary if count == 1 else PLURALS[primary]
            assert sentence.endswith(f' with {count} {noun}'), sentence
        for text in objects:
            for name, stated in mentioned_counts(text).items():
                assert name in counts, (text, counts)
                assert stated <= counts[name]
        # Captions 3-5 count whole categories: each stated count is the rendered count.
        for text in objects[2:]:
            stated = mentioned_counts(text)
            assert stated, text
            for name, count in stated.items():
                assert phrase(name, counts[name]) in text.lower()
                assert count == counts[name]


def test_mask_and_box_captions_agree() -> None:
    """Captions from Mask-to-Box boxes equal captions from the rendered boxes."""
    from_boxes = SyntheticAerial(split='test', length=28, caption_source='boxes')
    from_mask = SyntheticAerial(split='test', length=28, caption_source='mask')
    mixed = SyntheticAerial(split='test', length=28)
    for index in range(28):
        assert from_boxes.captions_of(index) == from_mask.captions_of(index)
        assert mixed.captions_of(index) == from_boxes.captions_of(index)


def test_scene_task_is_balanced() -> None:
    dataset = SyntheticAerial(split='test', task='scene', length=70)
    labels = [int(dataset[i]['label']) for i in range(70)]
    assert set(dataset[0]) == {'image', 'label'}
    assert dataset[0]['label'].dtype == torch.long
    assert Counter(labels) == {k: 10 for k in range(7)}
    assert dataset.classes == [
        'farmland',
        'forest',
        'lake',
        'residential area',
        'airport',
        'harbor',
        'industrial area',
    ]
    assert all('{}' in template for template in dataset.templates)
    for index in range(14):
        name = dataset.classes[int(dataset[index]['label'])]
        assert name in dataset.captions_of(index)[0].lower()
        assert dataset.scene_sentence(index) in dataset.captions_of(index)[0]


def test_retrieval_task_contract() -> None:
    dataset = SyntheticAerial(split='test', task='retrieval', length=12)
    assert len(dataset) == 12
    assert len(dataset.captions) == 60
    assert dataset.caption_to_image == [i // 5 for i in range(60)]
    assert dataset.captions[25:30] == dataset.captions_of(5)
    sample = dataset[5]
    assert set(sample) == {'image', 'index'}
    assert sample['index'] == 5


def test_count_task_matches_rendered_and_recovered_counts() -> None:
    dataset = SyntheticAerial(split='test', task='count', length=140)
    labels = []
    for index in range(140):
        sample = dataset[index]
        assert set(sample) == {'image', 'caption', 'label', 'class_name'}
        count = int(sample['label'])
        labels.append(count)
        found = find_count(sample['caption'])
        assert found is not None and found[0] == count, sample['caption']
        name = sample['class_name']
        assert name in sample['caption']
        assert dataset.classes[index % 7] in sample['caption']
        scene = dataset.render(index)
        assert scene.labels.count(name) == count
        _, recovered = mask_to_boxes(
            scene.semantic_mask, class_names=('ground', *OBJECT_CLASSES), ignore_index=0
        )
        assert recovered.count(name) == count
    assert Counter(labels) == {k: 14 for k in range(1, 11)}


def test_transforms_run_last() -> None:
    def flip(sample: dict) -> dict:
        return {**sample, 'image': sample['image'].flip(-1), 'seen': True}

    plain = SyntheticAerial(task='scene', length=7)
    flipped = SyntheticAerial(task='scene', length=7, transforms=flip)
    sample = flipped[4]
    assert sample['seen']
    assert torch.equal(sample['image'], plain[4]['image'].flip(-1))


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        ({'split': 'training'}, 'split'),
        ({'task': 'detection'}, 'task'),
        ({'image_size': 16}, 'image_size'),
        ({'length': 0}, 'length'),
        ({'caption_source': 'labels'}, 'caption_source'),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SyntheticAerial(**kwargs)


def test_index_out_of_range() -> None:
    dataset = SyntheticAerial(length=7)
    with pytest.raises(IndexError, match='7 images'):
        dataset[7]
    assert torch.equal(dataset[-1]['image'], dataset[6]['image'])


@pytest.mark.torchgeo
def test_torchgeo_dataset_conventions() -> None:
    from torchgeo.datasets import NonGeoDataset

    dataset = SyntheticAerial(task='scene', length=7, image_size=32)
    assert isinstance(dataset, NonGeoDataset)
    assert isinstance(dataset + dataset, ConcatDataset)
    assert 'size: 7' in str(dataset)
    sample = dataset[0]
    sample['prediction'] = torch.tensor(1)
    figure = dataset.plot(sample, suptitle='scene')
    assert 'forest' in figure.axes[0].get_title()
    matplotlib.pyplot.close(figure)

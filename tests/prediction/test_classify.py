"""classify_images against open_clip's own zero-shot classifier, checkpoints and bad images."""

import shutil
from pathlib import Path

import pytest
import torch
from prediction_reference import zero_shot_probabilities

from rs_vlm.datasets.scene_classes import CLASSES, EUROSAT_TEMPLATES, TEMPLATES
from rs_vlm.errors import CheckpointError, InputError
from rs_vlm.models import create_clip
from rs_vlm.prediction import (
    LoadedModel,
    classify_images,
    dataset_classes,
    dataset_names,
    find_images,
)
from rs_vlm.prediction.inputs import check_class_names

CLASS_NAMES = ['forest', 'river', 'farmland', 'harbor']
TEMPLATES_2 = ['an aerial photo of a {}.', 'a satellite image showing {}.']


def test_open_clip_recipe_matches_open_clip_classifier(
    tiny_model: LoadedModel, image_folder: Path
) -> None:
    result = classify_images(
        image_folder, CLASS_NAMES, templates=TEMPLATES_2, loaded=tiny_model,
        normalise_prompts=True,
    )  # fmt: skip
    files = find_images(image_folder)
    expected = zero_shot_probabilities(tiny_model, files, CLASS_NAMES, TEMPLATES_2, 'open_clip')
    torch.testing.assert_close(result.probabilities, expected, atol=1e-5, rtol=1e-4)
    itra = zero_shot_probabilities(tiny_model, files, CLASS_NAMES, TEMPLATES_2)
    assert (itra - expected).abs().max() > 1e-3  # the two recipes differ on this model


def test_top_k_and_probabilities_match_itra_classifier(
    tiny_model: LoadedModel, image_folder: Path
) -> None:
    result = classify_images(
        image_folder, CLASS_NAMES, templates=TEMPLATES_2, top_k=3, batch_size=2,
        loaded=tiny_model,
    )  # fmt: skip
    files = find_images(image_folder)
    expected = zero_shot_probabilities(tiny_model, files, CLASS_NAMES, TEMPLATES_2)
    assert [p.path for p in result.predictions] == [
        'a.png',
        'b.jpg',
        'e.JPG',
        'sub/c.tif',
        'sub/d.png',
    ]
    torch.testing.assert_close(result.probabilities, expected, atol=1e-5, rtol=1e-4)
    for row, prediction in zip(expected, result.predictions, strict=True):
        values, indices = row.topk(3)
        assert prediction.classes == [CLASS_NAMES[i] for i in indices.tolist()]
        assert prediction.probabilities == pytest.approx(values.tolist(), abs=1e-5)
    assert result.templates == TEMPLATES_2
    assert result.skipped == []


def test_probabilities_sum_to_one_and_top_k_is_capped(
    tiny_model: LoadedModel, image_folder: Path
) -> None:
    result = classify_images(image_folder / 'sub', ['a', 'b', 'c'], top_k=10, loaded=tiny_model)
    torch.testing.assert_close(result.probabilities.sum(dim=1), torch.ones(2))
    for prediction in result.predictions:
        assert len(prediction.classes) == 3
        assert sorted(prediction.classes) == ['a', 'b', 'c']
        assert sum(prediction.probabilities) == pytest.approx(1.0, abs=1e-5)
        assert prediction.probabilities == sorted(prediction.probabilities, reverse=True)


def test_dataset_gives_its_classes_and_templates(
    tiny_model: LoadedModel, image_folder: Path
) -> None:
    result = classify_images(image_folder / 'a.png', dataset='eurosat', loaded=tiny_model)
    assert result.classes == CLASSES['eurosat']
    assert result.templates == EUROSAT_TEMPLATES
    assert [p.path for p in result.predictions] == [(image_folder / 'a.png').as_posix()]
    # the CLI passes 'default', which also means the dataset's own ensemble
    again = classify_images(image_folder / 'a.png', dataset='eurosat', templates='default',
                            loaded=tiny_model)  # fmt: skip
    assert again.templates == EUROSAT_TEMPLATES
    torch.testing.assert_close(again.probabilities, result.probabilities)


@pytest.mark.torchgeo
def test_dataset_names_match_the_paper_tables() -> None:
    assert dataset_classes('RS2800') == (CLASSES['rsscn7'], TEMPLATES['rsscn7'])
    assert dataset_classes('whu earth') == (CLASSES['siriwhu'], TEMPLATES['siriwhu'])
    assert dataset_classes('SIRIWHU') == (CLASSES['siriwhu'], TEMPLATES['siriwhu'])
    classes, templates = dataset_classes('SyntheticAerial')
    assert 'forest' in classes and all('{}' in t for t in templates)
    with pytest.raises(ValueError, match=r'unknown dataset .*AID'):
        dataset_classes('no-such-set')
    for name in dataset_names():
        classes, templates = dataset_classes(name)
        assert check_class_names(classes, name) == classes
        assert templates and all(template.count('{}') == 1 for template in templates)


def test_checkpoint_weights_are_used(
    tmp_path: Path, tiny_model: LoadedModel, image_folder: Path
) -> None:
    torch.manual_seed(1)
    other = create_clip('rs-vit-tiny').eval()
    checkpoint = tmp_path / 'other.pt'
    torch.save(other.state_dict(), checkpoint)
    from_file = classify_images(
        image_folder, CLASS_NAMES, model_name='rs-vit-tiny', checkpoint=checkpoint, device='cpu'
    )
    files = find_images(image_folder)
    expected = zero_shot_probabilities((other, tiny_model[1], tiny_model[2]), files, CLASS_NAMES,
                                       from_file.templates)  # fmt: skip
    torch.testing.assert_close(from_file.probabilities, expected, atol=1e-5, rtol=1e-4)
    assert from_file.checkpoint == str(checkpoint)


def test_wrong_checkpoint_names_the_file(tmp_path: Path, image_folder: Path) -> None:
    checkpoint = tmp_path / 'resnet.pt'
    torch.save(create_clip('rs-rn-tiny').state_dict(), checkpoint)
    with pytest.raises(CheckpointError, match=r'resnet\.pt'):
        classify_images(image_folder, CLASS_NAMES, model_name='rs-vit-tiny', checkpoint=checkpoint)
    garbage = tmp_path / 'garbage.pt'
    garbage.write_bytes(b'not a torch file')
    with pytest.raises(CheckpointError, match=r'garbage\.pt: '):
        classify_images(image_folder, CLASS_NAMES, model_name='rs-vit-tiny', checkpoint=garbage)


def test_bad_image_raises_or_is_skipped_and_listed(
    tmp_path: Path, tiny_model: LoadedModel, image_folder: Path
) -> None:
    folder = tmp_path / 'mixed'
    shutil.copytree(image_folder, folder)
    (folder / 'sub' / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    with pytest.raises(InputError, match=r'broken\.png: cannot read image'):
        classify_images(folder, CLASS_NAMES, loaded=tiny_model)
    result = classify_images(folder, CLASS_NAMES, on_error='skip', batch_size=2, loaded=tiny_model)
    assert [path for path, _ in result.skipped] == ['sub/broken.png']
    assert len(result.predictions) == 5 and 'broken' not in str(result.predictions)
    assert 'skipped 1' in result.summary() and 'sub/broken.png' in result.summary()
    clean = classify_images(image_folder, CLASS_NAMES, loaded=tiny_model)
    torch.testing.assert_close(result.probabilities, clean.probabilities)


def test_argument_errors(tiny_model: LoadedModel, tmp_path: Path, image_folder: Path) -> None:
    with pytest.raises(ValueError, match='exactly one'):
        classify_images(image_folder, CLASS_NAMES, dataset='AID', loaded=tiny_model)
    with pytest.raises(InputError, match='repeats class 1'):
        classify_images(image_folder, ['forest', 'Forest'], loaded=tiny_model)
    (tmp_path / 'empty').mkdir()
    with pytest.raises(InputError, match='no image files found'):
        classify_images(tmp_path / 'empty', CLASS_NAMES, loaded=tiny_model)
    with pytest.raises(InputError, match='no such image file or folder'):
        classify_images(tmp_path / 'missing', CLASS_NAMES, loaded=tiny_model)

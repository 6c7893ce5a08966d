"""embed_images / embed_captions against direct encoding, the .npz round trip and search."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from prediction_reference import image_features, text_features

from rs_vlm.errors import InputError
from rs_vlm.models import create_clip
from rs_vlm.prediction import (
    Embeddings,
    LoadedModel,
    embed_captions,
    embed_images,
    find_images,
    load_embeddings,
    save_embeddings,
    search,
)

CAPTIONS = [
    'many planes are parked at the airport.',
    'a river runs through green farmland.',
    'dense forest with a small lake.',
    'ships moored in a busy harbor.',
]


def test_image_embeddings_equal_encode_image(tiny_model: LoadedModel, image_folder: Path) -> None:
    embeddings = embed_images(image_folder, batch_size=3, loaded=tiny_model)
    files = find_images(image_folder)
    assert embeddings.image_files == ['a.png', 'b.jpg', 'e.JPG', 'sub/c.tif', 'sub/d.png']
    assert embeddings.image_features.dtype == np.float32
    np.testing.assert_allclose(
        embeddings.image_features, image_features(tiny_model, files).numpy(), atol=1e-5
    )
    np.testing.assert_allclose(np.linalg.norm(embeddings.image_features, axis=1), 1, atol=1e-5)
    assert embeddings.caption_features.shape == (0, 64) and embeddings.captions == []


def test_caption_embeddings_from_text_and_csv_files(
    tmp_path: Path, tiny_model: LoadedModel
) -> None:
    text_file = tmp_path / 'captions.txt'
    text_file.write_text('\n'.join(CAPTIONS[:2]) + '\n\n' + '\n'.join(CAPTIONS[2:]) + '\n')
    csv_file = tmp_path / 'captions.csv'
    rows = ''.join(f'img{i}.jpg,"{caption}"\n' for i, caption in enumerate(CAPTIONS))
    csv_file.write_text('filepath,title\n' + rows, encoding='utf-8')
    expected = text_features(tiny_model, CAPTIONS).numpy()
    for source in (text_file, csv_file, CAPTIONS):
        embeddings = embed_captions(source, batch_size=3, loaded=tiny_model)
        assert embeddings.captions == CAPTIONS
        np.testing.assert_allclose(embeddings.caption_features, expected, atol=1e-5)


def _index(tiny_model: LoadedModel, image_folder: Path, tmp_path: Path) -> Path:
    images = embed_images(image_folder, loaded=tiny_model)
    captions = embed_captions(CAPTIONS, loaded=tiny_model)
    both = Embeddings(
        images.image_features, images.image_files, captions.caption_features, CAPTIONS,
        'rs-vit-tiny', '',
    )  # fmt: skip
    return save_embeddings(both, tmp_path / 'index.npz')


def test_npz_round_trip_without_pickle(
    tmp_path: Path, tiny_model: LoadedModel, image_folder: Path
) -> None:
    path = _index(tiny_model, image_folder, tmp_path)
    with np.load(path, allow_pickle=False) as archive:
        assert archive['image_features'].shape == (5, 64)
        assert list(archive['captions']) == CAPTIONS
        assert str(archive['model']) == 'rs-vit-tiny'
    loaded = load_embeddings(path)
    assert loaded.image_files[3] == 'sub/c.tif' and loaded.captions == CAPTIONS
    assert [p.name for p in tmp_path.iterdir()] == ['index.npz']  # no temporary left behind


def test_search_by_text_image_and_vector(
    tmp_path: Path, tiny_model: LoadedModel, image_folder: Path
) -> None:
    path = _index(tiny_model, image_folder, tmp_path)
    stored = load_embeddings(path)
    query = text_features(tiny_model, ['a harbor with ships'])[0].numpy()
    images = zip(stored.image_files, stored.image_features, strict=True)
    captions = zip(stored.captions, stored.caption_features, strict=True)
    scores = [('image', name, float(f @ query)) for name, f in images]
    scores += [('caption', text, float(f @ query)) for text, f in captions]
    expected = sorted(scores, key=lambda item: -item[2])[:4]
    hits = search(path, 'a harbor with ships', k=4, loaded=tiny_model)
    assert [(h.kind, h.name) for h in hits] == [(kind, name) for kind, name, _ in expected]
    assert [h.score for h in hits] == pytest.approx([s for _, _, s in expected], abs=1e-5)

    by_path = search(path, image_folder / 'sub' / 'c.tif', k=1, target='images', loaded=tiny_model)
    assert (by_path[0].name, by_path[0].index) == ('sub/c.tif', 3)
    assert by_path[0].score == pytest.approx(1.0, abs=1e-5)
    with Image.open(image_folder / 'b.jpg') as image:
        by_pil = search(path, image, k=1, target='images', loaded=tiny_model)
    assert by_pil[0].name == 'b.jpg' and by_pil[0].score == pytest.approx(1.0, abs=1e-5)

    captions_only = search(stored, 3 * stored.caption_features[2], k=10, target='captions')
    assert len(captions_only) == 4 and captions_only[0].name == CAPTIONS[2]
    assert captions_only[0].score == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match='query has 3 dimensions'):
        search(stored, np.ones(3), k=1)
    with pytest.raises(ValueError, match='without a checkpoint'):
        search(stored, 'a text query needs the model')


def test_search_reloads_the_model_named_in_the_file(
    tmp_path: Path, tiny_model: LoadedModel
) -> None:
    torch.manual_seed(2)
    model = create_clip('rs-vit-tiny').eval()
    checkpoint = tmp_path / 'weights.pt'
    torch.save(model.state_dict(), checkpoint)
    embeddings = embed_captions(
        CAPTIONS, model_name='rs-vit-tiny', checkpoint=checkpoint, device='cpu'
    )
    path = save_embeddings(embeddings, tmp_path / 'captions.npz')
    hits = search(path, CAPTIONS[1], k=1)
    assert hits[0].name == CAPTIONS[1] and hits[0].score == pytest.approx(1.0, abs=1e-5)
    reference = text_features((model, tiny_model[1], tiny_model[2]), CAPTIONS).numpy()
    np.testing.assert_allclose(load_embeddings(path).caption_features, reference, atol=1e-5)


def test_bad_embeddings_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match='no such embeddings file'):
        load_embeddings(tmp_path / 'missing.npz')
    not_npz = tmp_path / 'plain.npz'
    not_npz.write_text('hello')
    with pytest.raises(InputError, match=r'plain\.npz: not an embeddings'):
        load_embeddings(not_npz)
    partial = tmp_path / 'partial.npz'
    np.savez(partial, image_features=np.zeros((1, 4), np.float32))
    with pytest.raises(InputError, match="key 'image_files'"):
        load_embeddings(partial)


def test_search_of_a_target_the_file_does_not_hold_is_an_error(
    tmp_path: Path, tiny_model: LoadedModel
) -> None:
    captions_only = save_embeddings(
        embed_captions(CAPTIONS, loaded=tiny_model), tmp_path / 'captions.npz'
    )
    vector = load_embeddings(captions_only).caption_features[0]
    assert len(search(captions_only, vector, k=2, target='captions')) == 2
    with pytest.raises(ValueError, match=r'captions\.npz: the embeddings hold no image to search'):
        search(captions_only, vector, k=2, target='images')

"""One evaluation preprocessing: callbacks, runner and predict give load_model's preprocess."""

import numpy as np
import pytest
import torch
from PIL import Image

from rs_vlm.callbacks import ZeroShotCallback
from rs_vlm.evaluation import Encoder, SampleCollator, to_pil
from rs_vlm.io.decoding import load_image
from rs_vlm.models import evaluation_transform, load_model
from rs_vlm.prediction.encoding import ImageFileDataset


@pytest.fixture(scope='module')
def loaded():
    torch.manual_seed(0)
    return load_model('rs-vit-tiny')


@pytest.fixture
def jpeg(tmp_path):
    # a 16:9 frame with structure, so resizing and cropping both change the pixels
    rng = np.random.default_rng(0)
    array = (np.linspace(0, 255, 96)[None, :, None] + rng.integers(0, 60, (54, 96, 3))) % 256
    path = tmp_path / 'scene.jpg'
    Image.fromarray(array.astype(np.uint8)).save(path, quality=90)
    return path


def test_sample_preprocessing_equals_open_clip_preprocess_on_the_file(loaded, jpeg):
    model, preprocess, _ = loaded
    expected = preprocess(Image.open(jpeg).convert('RGB'))  # open_clip's / RemoteCLIP's way
    sample = {'image': load_image(jpeg), 'label': torch.tensor(2)}  # what our datasets yield
    batch = SampleCollator(evaluation_transform(model))([sample])
    assert batch['image'].shape == (1, 3, 32, 32)
    assert torch.equal(batch['image'][0], expected)
    assert batch['label'].tolist() == [2]
    # the predict path reads the file itself
    assert torch.equal(ImageFileDataset([jpeg], preprocess)[0]['image'], expected)
    # the callbacks build the same transform from the module's model
    callback_transform = ZeroShotCallback({}).image_transform(model)
    assert torch.equal(callback_transform(to_pil(load_image(jpeg))), expected)


def test_encoder_features_equal_encoding_the_preprocessed_file(loaded, jpeg):
    model, preprocess, tokenizer = loaded
    encoder = Encoder(model, preprocess, tokenizer, batch_size=2)
    encoded = encoder.images([{'image': load_image(jpeg), 'label': 0}] * 3)
    with torch.no_grad():
        direct = model.encode_image(preprocess(Image.open(jpeg).convert('RGB'))[None])
    direct = torch.nn.functional.normalize(direct, dim=-1)
    assert encoded.features.shape == (3, direct.shape[1])
    assert torch.allclose(encoded.features, direct.expand(3, -1), atol=1e-6)
    assert encoded.labels.tolist() == [0, 0, 0]


def test_to_pil_is_lossless_for_8_bit_images_and_refuses_other_shapes():
    image = torch.randint(0, 256, (3, 5, 7), dtype=torch.uint8)
    assert np.array_equal(np.asarray(to_pil(image.float())), image.permute(1, 2, 0).numpy())
    with pytest.raises(
        ValueError, match=r'expected an image of shape \[3, H, W\], got \[4, 5, 7\]'
    ):
        to_pil(torch.zeros(4, 5, 7))

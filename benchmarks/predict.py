"""Zero-shot classification of a folder: ``classify_images`` vs the per-image README loop.

The baseline is what open_clip's and RemoteCLIP's READMEs show: open each image, preprocess,
encode one at a time, compare with template-averaged class embeddings (ITRA's average of the
raw prompt embeddings, as ``classify_images`` builds them by default). Both paths use the same
model, classes, templates and images (1,000 JPEGs of 600 px by default); the script checks they
give the same probabilities and prints the speed ratio with 0 and 2 decoding workers.

    python benchmarks/predict.py --model rs-vit-tiny
    python benchmarks/predict.py --model ViT-B-32-quickgelu --device cuda
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from rs_vlm.models import load_model
from rs_vlm.prediction import classify_images

CLASSES = ['forest', 'river', 'farmland', 'harbor', 'airport', 'residential area']
TEMPLATES = ['a satellite photo of a {}.', 'an aerial photo of a {}.']


def write_images(folder: Path, count: int, size: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        path = folder / f'{index:05d}.jpg'
        pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def readme_loop(loaded: tuple, files: list[Path], device: str) -> tuple[torch.Tensor, float]:
    model, preprocess, tokenizer = loaded
    start = time.perf_counter()
    with torch.no_grad():
        prompts = [template.format(name) for name in CLASSES for template in TEMPLATES]
        text = model.encode_text(tokenizer(prompts).to(device))
        weights = F.normalize(text.view(len(CLASSES), len(TEMPLATES), -1).mean(1), dim=-1)
        rows = []
        for path in files:
            image = preprocess(Image.open(path)).unsqueeze(0).to(device)
            features = F.normalize(model.encode_image(image), dim=-1)
            rows.append((100 * features @ weights.T).softmax(-1)[0].cpu())
    return torch.stack(rows), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='rs-vit-tiny')
    parser.add_argument('--images', type=int, default=1000)
    parser.add_argument('--size', type=int, default=600, help='side of the generated JPEGs')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args()

    torch.manual_seed(0)
    loaded = load_model(args.model, device=args.device)
    loaded[0].eval()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = write_images(root, args.images, args.size)
        baseline, baseline_s = readme_loop(loaded, files, args.device)
        for workers in (0, 2):
            start = time.perf_counter()
            ours = classify_images(
                root,
                CLASSES,
                templates=TEMPLATES,
                loaded=loaded,
                batch_size=args.batch_size,
                num_workers=workers,
                device=args.device,
                progress=False,
            )
            ours_s = time.perf_counter() - start
            same = torch.allclose(ours.probabilities.cpu(), baseline, atol=1e-4)
            print(
                f'{args.model}, {args.images} images of {args.size} px, {args.device}: '
                f'README loop {baseline_s:.2f} s | classify_images (batch {args.batch_size}, '
                f'{workers} workers) {ours_s:.2f} s | ratio {baseline_s / ours_s:.2f}x | '
                f'same probabilities: {same}'
            )


if __name__ == '__main__':
    main()

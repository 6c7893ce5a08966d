"""Evaluation speed: the retrieval metric and the zero-shot protocol's overhead, side by side.

1. Retrieval recall@1/5/10 (both directions) on RSICD's test shape, 1,093 images x 5,465
   captions, 512-d embeddings: ``rs_vlm.metrics.retrieval_hit_rates`` against the bare
   ``texts @ images.T`` the official script starts with, quiet and again while two busy-loop
   processes load the CPU; plus torchmetrics ``RetrievalHitRate`` fed the same score matrix
   with ``indexes`` (what a user would otherwise write), checking the values agree.
2. Zero-shot per validation epoch: what ``ZeroShotCallback`` runs (the core's ITRA classifier
   from one text forward, image encoding with open_clip's preprocessing, accuracy) against a
   bare loop that only encodes the same images with the same preprocessing.

Run: ``python benchmarks/evaluation.py [--repeats 7] [--images 2000]``.
"""

import argparse
import statistics
import subprocess
import sys
import time
from functools import partial

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from torchmetrics.retrieval import RetrievalHitRate

from rs_vlm.evaluation import (
    Encoder,
    SampleCollator,
    build_zero_shot_classifier,
    zero_shot_accuracy,
)
from rs_vlm.metrics import retrieval_hit_rates
from rs_vlm.models import evaluation_transform, get_tokenizer, load_model


def alternating(fns, repeats):
    """Median time of each function, run in turns so load changes hit all of them alike."""
    times = [[] for _ in fns]
    results = [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            results[i] = fn()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times], results


def torchmetrics_hit_rates(images, texts, caption_to_image):
    scores = texts @ images.T
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(texts)), caption_to_image] = True
    out = {}
    for name, s, p in (('t2i', scores, positive), ('i2t', scores.T, positive.T)):
        indexes = torch.arange(s.shape[0])[:, None].expand_as(s).flatten()
        for k in (1, 5, 10):
            metric = RetrievalHitRate(top_k=k)
            out[f'{name}_r{k}'] = metric(s.flatten(), p.flatten(), indexes=indexes) * 100
    return out


def busy_loops(count):
    """Background processes that each keep one core busy (the 'under load' condition)."""
    return [subprocess.Popen([sys.executable, '-c', 'while 1: pass']) for _ in range(count)]


def bench_retrieval(repeats):
    gen = torch.Generator().manual_seed(0)
    images = F.normalize(torch.randn(1093, 512, generator=gen), dim=-1)
    caption_to_image = torch.arange(1093).repeat_interleave(5)
    texts = F.normalize(images[caption_to_image] + torch.randn(5465, 512, generator=gen), dim=-1)
    fns = [lambda: retrieval_hit_rates(images, texts, caption_to_image), lambda: texts @ images.T]
    (ours_s, matmul_s), (ours, _) = alternating(fns, repeats)
    loops = busy_loops(2)
    try:
        (ours_load_s, matmul_load_s), _ = alternating(fns, repeats)
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    (tm_s,), (theirs,) = alternating(
        [lambda: torchmetrics_hit_rates(images, texts, caption_to_image)], 1
    )
    worst = max(abs(ours[k].item() - theirs[k].item()) for k in theirs)
    print('retrieval metric, 1,093 images x 5,465 captions, 512-d (median of runs)')
    print(
        f'  as is          : retrieval_hit_rates {ours_s * 1000:7.1f} ms | texts @ images.T '
        f'{matmul_s * 1000:7.1f} ms | ratio {ours_s / matmul_s:.2f}x'
    )
    print(
        f'  2 busy loops on: retrieval_hit_rates {ours_load_s * 1000:7.1f} ms | texts @ images.T '
        f'{matmul_load_s * 1000:7.1f} ms | ratio {ours_load_s / matmul_load_s:.2f}x'
    )
    print(f'  torchmetrics RetrievalHitRate: {tm_s * 1000:.1f} ms (6 metrics, with indexes)')
    print(f'  largest difference to torchmetrics: {worst:.2e} points')


class RandomScenes(Dataset):
    def __init__(self, n, classes):
        self.images = torch.randint(0, 256, (n, 3, 32, 32)).float()
        self.labels = torch.arange(n) % len(classes)
        self.classes = classes
        self.templates = [
            'a centered satellite photo of a {}.',
            'a centered satellite photo of the {} taken from above.',
            'an overhead view of the {}.',
            'an overhead view of a {}.',
            'an overhead view of {}.',
        ]

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return {'image': self.images[i], 'label': self.labels[i]}


def bench_zero_shot(repeats, n_images):
    torch.manual_seed(0)
    model, preprocess, _ = load_model('rs-vit-tiny')
    dataset = RandomScenes(n_images, [f'class {i}' for i in range(30)])  # AID: 30 classes
    encoder = Encoder(model, evaluation_transform(model), get_tokenizer('rs-vit-tiny'))

    def zero_shot_epoch():  # what ZeroShotCallback.evaluate runs for one dataset
        classifier = build_zero_shot_classifier(
            partial(encoder.texts, normalize=False, shard=False), dataset.classes,
            dataset.templates,
        )  # fmt: skip
        images = encoder.images(dataset)
        return zero_shot_accuracy(images.features, images.labels, classifier).accuracies

    def bare():  # the same preprocessing and image forwards, nothing else
        loader = DataLoader(dataset, batch_size=64, collate_fn=SampleCollator(preprocess))
        with torch.no_grad():
            return [F.normalize(model.encode_image(b['image']), dim=-1) for b in loader]

    (epoch_s, bare_s), _ = alternating([zero_shot_epoch, bare], repeats)
    print(f'zero-shot per validation epoch, rs-vit-tiny, {n_images} images, 30 classes x 5 prompts')
    print(f'  bare image-encoding loop : {bare_s * 1000:8.1f} ms')
    print(f'  zero-shot epoch          : {epoch_s * 1000:8.1f} ms  (ratio {epoch_s / bare_s:.2f}x)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--images', type=int, default=2000)
    args = parser.parse_args()
    bench_retrieval(args.repeats)
    bench_zero_shot(args.repeats, args.images)


if __name__ == '__main__':
    main()

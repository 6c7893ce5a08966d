"""Evaluation speed: the retrieval metric and the zero-shot callback's overhead.

1. Retrieval recall@1/5/10 (both directions) on RSICD's test shape, 1,093 images x 5,465
   captions, 512-d embeddings: ``rs_vlm.metrics.retrieval_hit_rates`` against torchmetrics
   ``RetrievalHitRate`` fed the same score matrix with ``indexes`` (what a user would
   otherwise write). Checks the values agree and prints the speed ratio, and the time of the
   bare ``texts @ images.T`` that the official script starts with.
2. Zero-shot per validation epoch: ``ZeroShotCallback.compute`` (template-ensemble classifier
   + image encoding + accuracy) against a bare loop that only encodes the same images.

Run: ``python benchmarks/evaluation.py [--repeats 5] [--images 2000]``.
"""

import argparse
import statistics
import time
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from torchmetrics.retrieval import RetrievalHitRate

from rs_vlm.callbacks import ZeroShotCallback
from rs_vlm.metrics import retrieval_hit_rates


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


def timed(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


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


def bench_retrieval(repeats):
    gen = torch.Generator().manual_seed(0)
    images = F.normalize(torch.randn(1093, 512, generator=gen), dim=-1)
    caption_to_image = torch.arange(1093).repeat_interleave(5)
    texts = F.normalize(images[caption_to_image] + torch.randn(5465, 512, generator=gen), dim=-1)
    (ours_s, matmul_s), (ours, _) = alternating(
        [lambda: retrieval_hit_rates(images, texts, caption_to_image), lambda: texts @ images.T],
        repeats,
    )
    tm_s, theirs = timed(lambda: torchmetrics_hit_rates(images, texts, caption_to_image), 1)
    worst = max(abs(ours[k].item() - theirs[k].item()) for k in theirs)
    print('retrieval metric, 1,093 images x 5,465 captions, 512-d (median of runs)')
    print(f'  rs_vlm retrieval_hit_rates   : {ours_s * 1000:8.1f} ms')
    print(f'  torchmetrics RetrievalHitRate: {tm_s * 1000:8.1f} ms (6 metrics, with indexes)')
    print(f'  texts @ images.T alone       : {matmul_s * 1000:8.1f} ms (the official first step)')
    print(f'  speed-up: {tm_s / ours_s:.1f}x   largest difference: {worst:.2e} points')
    print(f'  mean recall: {ours["mean_recall"].item():.2f}')


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
    from rs_vlm.modules import RemoteCLIPModule

    torch.manual_seed(0)
    module = RemoteCLIPModule('rs-vit-tiny').eval()
    dataset = RandomScenes(n_images, [f'class {i}' for i in range(30)])  # AID: 30 classes
    callback = ZeroShotCallback({'aid': dataset}, batch_size=64)
    single = SimpleNamespace(global_rank=0, world_size=1)

    def bare():  # the same loading, resizing and normalising, without classifier or metric
        loader = DataLoader(dataset, batch_size=64, collate_fn=callback._collate(32))
        return [module.encode_images(callback.normalise(b['image'])) for b in loader]

    prompts = [t.format(c) for c in dataset.classes for t in dataset.templates]
    with torch.no_grad():
        (cb_s, bare_s, classifier_s), _ = alternating(
            [
                lambda: callback.compute(single, module, 'aid', dataset),
                bare,
                lambda: callback.encode_strings_locally(module, prompts),
            ],
            repeats,
        )
    print(f'zero-shot per validation epoch, rs-vit-tiny, {n_images} images, 30 classes x 5 prompts')
    print(f'  bare image-encoding loop : {bare_s * 1000:8.1f} ms')
    print(f'  ZeroShotCallback.compute : {cb_s * 1000:8.1f} ms '
          f'(classifier alone {classifier_s * 1000:.1f} ms)')  # fmt: skip
    print(f'  overhead: {(cb_s / bare_s - 1) * 100:+.0f}%  (ratio {cb_s / bare_s:.2f}x)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--images', type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    bench_retrieval(args.repeats)
    bench_zero_shot(args.repeats, args.images)


if __name__ == '__main__':
    main()

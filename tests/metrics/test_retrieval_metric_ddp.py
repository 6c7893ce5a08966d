import json
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from rs_vlm.metrics import CrossModalRetrieval, retrieval_hit_rates


def data():
    gen = torch.Generator().manual_seed(0)
    images = F.normalize(torch.randn(41, 8, generator=gen), dim=-1)
    caption_to_image = torch.arange(41).repeat_interleave(5)
    texts = F.normalize(images[caption_to_image] + torch.randn(205, 8, generator=gen), dim=-1)
    return images, texts, caption_to_image


def worker(rank, port, out):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=port)
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=2)
    images, texts, caption_to_image = data()
    metric = CrossModalRetrieval()
    calls = []
    original = metric._sync_dist
    metric._sync_dist = lambda *a, **k: (calls.append(1), original(*a, **k))[1]
    # uneven shards, several updates per rank; captions in another order than images
    image_ids = torch.arange(rank, 41, 2)
    for chunk in image_ids.split(4):
        metric.update(image_features=images[chunk], image_ids=chunk)
    text_ids = torch.arange(205).flip(0)[rank::2]
    for chunk in text_ids.split(9):
        metric.update(
            text_features=texts[chunk], text_image_ids=caption_to_image[chunk], text_ids=chunk
        )
    result = {k: v.item() for k, v in metric.compute().items()}
    result['sync_calls'] = len(calls)
    (out / f'rank{rank}.json').write_text(json.dumps(result))
    dist.destroy_process_group()


def test_two_process_gloo_sync_equals_single_process(tmp_path):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = str(s.getsockname()[1])
    mp.start_processes(worker, args=(port, tmp_path), nprocs=2, start_method='fork')
    images, texts, caption_to_image = data()
    expected = retrieval_hit_rates(images, texts, caption_to_image)
    for rank in range(2):
        result = json.loads((tmp_path / f'rank{rank}.json').read_text())
        assert result.pop('sync_calls') == 1  # states gathered once, at compute
        for key, value in expected.items():
            assert result[key] == value.item(), key

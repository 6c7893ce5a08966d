"""Draw docs/images/caption_sample.png: a caption-corpus sample as ``dataset.plot`` shows it.

The image and its five captions come from the package's synthetic aerial world (written to a
temporary open_clip-style CSV corpus), so the figure ships no third-party data. Run from the
repository root::

    python docs/scripts/plot_caption_sample.py
"""

import csv
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use('Agg')

from PIL import Image

from rs_vlm.datasets import CaptionCSVDataset
from rs_vlm.synthetic import SyntheticAerial

OUTPUT = Path(__file__).resolve().parents[1] / 'images' / 'caption_sample.png'


def main() -> None:
    """Write the figure."""
    world = SyntheticAerial(split='test', image_size=160, length=4, seed=3)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        with open(root / 'corpus.csv', 'w', newline='', encoding='utf-8') as handle:
            writer = csv.writer(handle)
            writer.writerow(['filepath', 'title'])
            for index in range(len(world)):
                name = f'scene_{index}.png'
                pixels = world[index]['image'].permute(1, 2, 0).byte().numpy()
                Image.fromarray(pixels).save(root / name)
                writer.writerows([name, caption] for caption in world.captions_of(index))
        dataset = CaptionCSVDataset(root / 'corpus.csv', mode='retrieval', image_size=None)
        figure = dataset.plot(dataset[2], suptitle='CaptionCSVDataset.plot (retrieval mode)')
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(OUTPUT, dpi=80)
    print(f'wrote {OUTPUT}')


if __name__ == '__main__':
    main()

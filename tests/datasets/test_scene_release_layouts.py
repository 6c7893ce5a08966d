"""Scene datasets read their releases' real folder trees (typos included), and bad folders.

Folder-name lists and release roots are those of the ITRA code base RemoteCLIP was evaluated
with (``ChenDelong1999/ITRA``, branch ``test``: ``itra/data/classname_and_prompt/<set>.py``,
``file_class_names``, paired by position with the prompt class names ``classes``; roots from
``itra/data/classification_datasets.py``). Each list is written out here as released, so a
test fails if a folder of the release stops matching its class. RSSCN7's original folder
names are those of the release (``aGrass`` ... ``gParking``, github.com/palewithout/RSSCN7).
"""

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rs_vlm.datasets import (
    AID,
    OPTIMAL31,
    RESISC45,
    RSC11,
    RSICB128,
    RSICB256,
    RSSCN7,
    SIRIWHU,
    WHURS19,
    EuroSATRGB,
    MLRSNet,
    PatternNet,
    UCMerced,
)
from rs_vlm.datasets.scene_dataset import SceneDataset
from rs_vlm.errors import InputError
from rs_vlm.evaluation.zero_shot import build_zero_shot_classifier


def _pairs(folders: str, classes: str) -> list[tuple[str, str]]:
    # ITRA's lists, comma-separated; its prompt names use '_' and '/' for spaces
    folder_list = [name.strip() for name in folders.split(',')]
    class_list = [name.strip().replace('_', ' ') for name in classes.split(',')]
    assert len(folder_list) == len(class_list)
    return list(zip(folder_list, class_list))


# (dataset class, release root under the dataset folder, file suffix, [(folder, ITRA class)])
RELEASES: dict[str, tuple[type[SceneDataset], str, str, list[tuple[str, str]]]] = {
    'AID': (
        AID,
        'AID_dataset/AID',
        '.jpg',
        _pairs(
            'Airport, DenseResidential, Park, School, BareLand, Desert, '
            'Parking, SparseResidential, '
            'BaseballField, Farmland, Playground, Square, Beach, Forest, Pond, Stadium, Bridge, '
            'Industrial, Port, StorageTanks, Center, Meadow, RailwayStation, Viaduct, Church, '
            'MediumResidential, Resort, Commercial, Mountain, River',
            'airport, dense residential, park, school, bareLand, desert, '
            'parking, sparse residential, '
            'baseball field, farmland, playground, square, beach, forest, pond, stadium, bridge, '
            'industrial, port, storage tanks, center, meadow, railway station, viaduct, church, '
            'medium residential, resort, commercial, mountain, river',
        ),
    ),
    'EuroSAT': (
        EuroSATRGB,
        'EuroSAT/2750',
        '.jpg',
        _pairs(
            'Forest, PermanentCrop, Residential, River, Pasture, SeaLake, HerbaceousVegetation, '
            'AnnualCrop, Industrial, Highway',
            'forest, permanent crop land, residential buildings or homes or apartments, river, '
            'pasture land, lake or sea, brushland or shrubland, annual crop land, '
            'industrial buildings or commercial buildings, highway or road',
        ),
    ),
    'MLRSNet': (
        MLRSNet,
        'MLRSNet/Images',
        '.jpg',
        _pairs(
            'airplane, airport, bareland, baseball_diamond, basketball_court, beach, bridge, '
            'chaparral, cloud, commercial_area, dense_residential_area, desert, eroded_farmland, '
            'farmland, forest, freeway, golf_course, ground_track_field, harbor&port, '
            'industrial_area, intersection, island, lake, meadow, mobile_home_park, mountain, '
            'overpass, park, parking_lot, parkway, railway, railway_station, river, roundabout, '
            'shipping_yard, snowberg, sparse_residential_area, stadium, '
            'storage_tank, swimmimg_pool, '
            'tennis_court, terrace, transmission_tower, '
            'vegetable_greenhouse, wetland, wind_turbine',
            'airplane, airport, bare land, baseball diamond, basketball court, beach, bridge, '
            'chaparral, cloud, commercial area, dense residential area, desert, eroded farmland, '
            'farmland, forest, freeway, golf course, ground track field, harbor port, '
            'industrial area, intersection, island, lake, meadow, mobile home park, mountain, '
            'overpass, park, parking lot, parkway, railway, railway station, river, roundabout, '
            'shipping yard, snow berg, sparse residential area, stadium, storage tank, '
            'swimming pool, tennis court, terrace, transmission tower, vegetable greenhouse, '
            'wetland, wind turbine',
        ),
    ),
    'OPTIMAL-31': (
        OPTIMAL31,
        'OPTIMAL-31/Images',
        '.jpg',
        _pairs(
            'airplane, airport, baseball_diamond, basketball_court, beach, bridge, chaparral, '
            'church, circular_farmland, commercial_area, dense_residential, desert, forest, '
            'freeway, golf_course, ground_track_field, harbor, industrial_area, intersection, '
            'island, lake, meadow, medium_residential, mobile_home_park, mountain, overpass, '
            'parking_lot, railway, rectangular_farmland, roundabout, runway',
            'airplane, airport, baseball diamond, basketball court, beach, bridge, chaparral, '
            'church, circular farmland, commercial area, dense residential, desert, forest, '
            'freeway, golf course, ground track field, harbor, industrial area, intersection, '
            'island, lake, meadow, medium residential, mobile home park, mountain, overpass, '
            'parking lot, railway, rectangular farmland, roundabout, runway',
        ),
    ),
    'PatternNet': (
        PatternNet,
        'PatternNet/images',
        '.jpg',
        _pairs(
            'airplane, baseball_field, basketball_court, beach, bridge, cemetery, chaparral, '
            'christmas_tree_farm, closed_road, coastal_mansion, crosswalk, dense_residential, '
            'ferry_terminal, football_field, forest, freeway, golf_course, harbor, intersection, '
            'mobile_home_park, nursing_home, oil_gas_field, oil_well, overpass, parking_lot, '
            'parking_space, railway, river, runway, runway_marking, shipping_yard, solar_panel, '
            'sparse_residential, storage_tank, swimming_pool, tennis_court, transformer_station, '
            'wastewater_treatment_plant',
            'airplane, baseball field, basketball court, beach, bridge, cemetery, chaparral, '
            'christmas tree farm, closed road, coastal mansion, crosswalk, dense residential, '
            'ferry terminal, football field, forest, freeway, golf course, harbor, intersection, '
            'mobile home park, nursing home, oil gas field, oil well, overpass, parking lot, '
            'parking space, railway, river, runway, runway marking, shipping yard, solar panel, '
            'sparse residential, storage tank, swimming pool, tennis court, transformer station, '
            'wastewater treatment plant',
        ),
    ),
    'RESISC45': (
        RESISC45,
        'NWPU-RESISC45',
        '.jpg',
        _pairs(
            'airplane, airport, baseball_diamond, basketball_court, beach, bridge, chaparral, '
            'church, circular_farmland, cloud, commercial_area, dense_residential, desert, forest, '
            'freeway, golf_course, ground_track_field, harbor, industrial_area, intersection, '
            'island, lake, meadow, medium_residential, mobile_home_park, mountain, overpass, '
            'palace, parking_lot, railway, railway_station, rectangular_farmland, river, '
            'roundabout, runway, sea_ice, ship, snowberg, sparse_residential, stadium, '
            'storage_tank, tennis_court, terrace, thermal_power_station, wetland',
            'airplane, airport, baseball diamond, basketball court, beach, bridge, chaparral, '
            'church, circular farmland, cloud, commercial area, dense residential, desert, forest, '
            'freeway, golf course, ground track field, harbor, industrial area, intersection, '
            'island, lake, meadow, medium residential, mobile home park, mountain, overpass, '
            'palace, parking lot, railway, railway station, rectangular farmland, river, '
            'roundabout, runway, sea ice, ship, snowberg, sparse residential, stadium, '
            'storage tank, tennis court, terrace, thermal power station, wetland',
        ),
    ),
    'RS2800 (ITRA)': (
        RSSCN7,
        'RS2800/RS_images_2800',
        '.jpg',
        _pairs(
            'RiverLake, Parking, Industry, Forest, Field, Resident, Grass',
            'river or lake, parking, industry, forest, field, resident, grass',
        ),
    ),
    'RSSCN7 (release)': (
        RSSCN7,
        'RSSCN7',
        '.jpg',
        _pairs(
            'dRiverLake, gParking, cIndustry, eForest, bField, fResident, aGrass',
            'river or lake, parking, industry, forest, field, resident, grass',
        ),
    ),
    'RSC11': (
        RSC11,
        'RS_C11_Database',
        '.tif',
        _pairs(
            'denseforest, highbuildings, railway, sparseforest, grassland, lowbuildings, '
            'residentialarea, stroagetanks, harbor, overpass, roads',
            'dense forest, high buildings, railway, sparse forest, grassland, low buildings, '
            'residential area, storage tanks, harbor, overpass, roads',
        ),
    ),
    'RSI-CB128': (
        RSICB128,
        'RSI-CB128',
        '.tif',
        _pairs(
            'airport_runway, artificial_grassland, avenue, bare_land, bridge, city_avenue, '
            'city_building, city_green_tree, city_road, coastline, container, crossroads, dam, '
            'desert, dry_farm, forest, fork_road, grave, green_farmland, highway, hirst, '
            'lakeshore, mangrove, marina, mountain, mountain_road, natural_grassland, overpass, '
            'parkinglot, pipeline, rail, residents, river, river_protection_forest, sandbeach, '
            'sapling, sea, shrubwood, snow_mountain, sparse_forest, storage_room, stream, tower, '
            'town, turning_circle',
            'airport runway, artificial grassland, avenue, bare land, bridge, city avenue, '
            'city building, city green tree, city road, coastline, container, crossroads, dam, '
            'desert, dry farm, forest, fork road, grave, green farmland, highway, hirst, '
            'lake shore, mangrove, marina, mountain, mountain road, natural grassland, overpass, '
            'parking lot, pipeline, rail, residents, river, river protection forest, sand beach, '
            'sapling, sea, shrub wood, snow mountain, sparse forest, storage room, stream, tower, '
            'town, turning circle',
        ),
    ),
    'RSI-CB256': (
        RSICB256,
        'RSI-CB256',
        '.tif',
        _pairs(
            'container, sea, highway, avenue, bare_land, sparse_forest, residents, parkinglot, '
            'sandbeach, storage_room, mangrove, sapling, airplane, artificial_grassland, town, '
            'snow_mountain, river, stream, city_building, '
            'green_farmland, bridge, dry_farm, forest, '
            'pipeline, shrubwood, crossroads, dam, coastline, lakeshore, hirst, mountain, '
            'airport_runway, marina, river_protection_forest, desert',
            'container, sea, highway, avenue, bare land, sparse forest, residents, parkinglot, '
            'sandbeach, storage room, mangrove, sapling, airplane, artificial grassland, town, '
            'snow mountain, river, stream, city building, '
            'green farmland, bridge, dry farm, forest, '
            'pipeline, shrubwood, crossroads, dam, coastline, lakeshore, hirst, mountain, '
            'airport runway, marina, river protection forest, desert',
        ),
    ),
    'WHU-earth': (
        SIRIWHU,
        'Google dataset of SIRI-WHU_earth_im_tiff/12class_tif',
        '.tif',
        _pairs(
            'meadow, water, harbor, pond, park, commercial, idle_land, river, residential, '
            'overpass, agriculture, industrial',
            'meadow, water, harbor, pond, park, commercial, idle land, river, residential, '
            'overpass, agriculture, industrial',
        ),
    ),
    'WHU-RS19': (
        WHURS19,
        'WHU-RS19',
        '.jpg',
        _pairs(
            'Airport, Beach, Bridge, Commercial, Desert, Farmland, footballField, Forest, '
            'Industrial, Meadow, Mountain, Park, Parking, Pond, Port, railwayStation, Residential, '
            'River, Viaduct',
            'airport, beach, bridge, Commercial, desert, farmland, footballField, forest, '
            'industrial, meadow, mountain, park, parking, pond, port, railwayStation, residential, '
            'river, viaduct',
        ),
    ),
    'UCMerced': (
        UCMerced,
        'UCMerced_LandUse/Images',
        '.tif',
        _pairs(
            'mediumresidential, harbor, parkinglot, golfcourse, storagetanks, denseresidential, '
            'agricultural, runway, intersection, tenniscourt, airplane, buildings, '
            'baseballdiamond, beach, river, overpass, forest, mobilehomepark, chaparral, '
            'sparseresidential, freeway',
            'medium residential, harbor, parking lot, golf course, storage tanks, '
            'dense residential, agricultural, runway, intersection, tennis court, airplane, '
            'buildings, baseball diamond, beach, river, overpass, forest, mobile home park, '
            'chaparral, sparse residential, freeway',
        ),
    ),
}
EXPECTED_CLASS_COUNTS = {
    'AID': 30, 'EuroSAT': 10, 'MLRSNet': 46, 'OPTIMAL-31': 31, 'PatternNet': 38,
    'RESISC45': 45, 'RS2800 (ITRA)': 7, 'RSSCN7 (release)': 7, 'RSC11': 11, 'RSI-CB128': 45,
    'RSI-CB256': 35, 'WHU-earth': 12, 'WHU-RS19': 19, 'UCMerced': 21,
}  # fmt: skip
IMAGES_PER_CLASS = 5


def _write_tree(
    root: Path, folders: list[str], suffix: str, per_class: int = IMAGES_PER_CLASS
) -> None:
    # Files named as the releases name them: <folder>_<n> (RESISC45, EuroSAT) or similar.
    pixels = np.zeros((4, 4, 3), np.uint8)
    for index, folder in enumerate(folders):
        (root / folder).mkdir(parents=True)
        for number in range(1, per_class + 1):
            pixels[:] = (index * 5) % 256, number, 7
            Image.fromarray(pixels).save(root / folder / f'{folder}_{number:03d}{suffix}')


@pytest.mark.parametrize('release', list(RELEASES))
def test_release_tree_matches_every_folder_to_its_class(tmp_path: Path, release: str) -> None:
    cls, prefix, suffix, pairs = RELEASES[release]
    _write_tree(tmp_path / prefix, [folder for folder, _ in pairs], suffix)
    dataset = cls(tmp_path, split='all')
    assert len(dataset.classes) == EXPECTED_CLASS_COUNTS[release] == len(pairs)
    assert dataset.missing_classes == [] and dataset.unmatched_folders == []
    # every folder's files carry the class ITRA pairs with that folder
    found = {
        path.parent.name: dataset.classes[target]
        for path, target in zip(dataset.files, dataset.targets, strict=True)
    }
    assert found == dict(pairs)
    assert len(dataset) == IMAGES_PER_CLASS * len(pairs)
    test = cls(tmp_path, split='test')
    assert len(test) == len(pairs)  # the last of 5 sorted files per class
    assert {path.name.endswith(f'_005{suffix}') for path in test.files} == {True}
    assert dataset[0]['image'].shape == (3, 4, 4)


@pytest.mark.torchgeo
def test_resisc45_release_without_torchgeo_split_files(tmp_path: Path) -> None:
    _, prefix, suffix, pairs = RELEASES['RESISC45']
    _write_tree(tmp_path / prefix, [folder for folder, _ in pairs[:3]], suffix)
    assert not list(tmp_path.glob('resisc45-*.txt'))
    dataset = RESISC45(tmp_path, split='all')
    assert dataset.classes == ['airplane', 'airport', 'baseball diamond']
    # torchgeo's layout (the same tree plus its split files) goes through torchgeo
    listed = sorted(p.relative_to(tmp_path).as_posix() for p in dataset.files)
    for split in ('train', 'val', 'test'):
        (tmp_path / f'resisc45-{split}.txt').write_text(
            '\n'.join(Path(p).name for p in listed[{'train': 0, 'val': 1, 'test': 2}[split] :: 3])
        )
    via_torchgeo = RESISC45(tmp_path, split='all')
    assert sorted(p.relative_to(tmp_path).as_posix() for p in via_torchgeo.files) == listed


def test_eurosat_prefers_the_rgb_jpeg_release(tmp_path: Path) -> None:
    _, prefix, suffix, pairs = RELEASES['EuroSAT']
    _write_tree(tmp_path / prefix, [folder for folder, _ in pairs], suffix)
    dataset = EuroSATRGB(tmp_path, split='test')
    assert dataset.input_kind == 'rgb-jpeg'
    assert {path.suffix for path in dataset.files} == {'.jpg'}
    # JPEG pixels come through unscaled (8-bit RGB)
    image = dataset[0]['image']
    assert image.dtype == torch.float32 and float(image[2].mean()) == pytest.approx(7, abs=2)


def test_unknown_folder_names_the_closest_classes(tmp_path: Path) -> None:
    _, prefix, suffix, pairs = RELEASES['MLRSNet']
    folders = [folder for folder, _ in pairs if folder != 'swimmimg_pool'] + ['swiming-pools']
    _write_tree(tmp_path / prefix, folders, suffix)
    with pytest.raises(InputError) as info:
        MLRSNet(tmp_path)
    message = str(info.value)
    assert str(tmp_path / prefix / 'swiming-pools') in message
    assert "closest class names: ['swimming pool'" in message


def test_skipped_folder_drops_its_class_from_the_classifier(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, prefix, suffix, pairs = RELEASES['RSC11']
    folders = [folder for folder, _ in pairs if folder != 'stroagetanks'] + ['storage tank']
    _write_tree(tmp_path / prefix, folders, suffix)
    with caplog.at_level(logging.WARNING, logger='rs_vlm.datasets'):
        dataset = RSC11(tmp_path, split='all', on_error='skip')
    assert dataset.missing_classes == ['storage tanks']
    assert dataset.unmatched_folders == [f'{prefix}/storage tank']
    assert len(dataset.classes) == 10 and 'storage tanks' not in dataset.classes
    assert dataset.all_classes[7] == 'storage tanks' and len(dataset.all_classes) == 11
    # labels index the present classes: 'roads' (11th of 11) is now label 9 of 10
    roads = dataset.targets[[p.parent.name for p in dataset.files].index('roads')]
    assert dataset.classes[roads] == 'roads' and roads == 9
    assert max(dataset.targets) == 9
    assert 'storage tanks' in caplog.text
    # the zero-shot classifier is built from dataset.classes: one row per present class
    encode = lambda texts: torch.eye(64)[: len(texts)]  # noqa: E731
    classifier = build_zero_shot_classifier(encode, dataset.classes, dataset.templates)
    assert classifier.shape[0] == 10


def test_every_class_skipped_is_an_error(tmp_path: Path) -> None:
    _write_tree(tmp_path / 'WHU-RS19', ['Volcano'], '.jpg')
    with pytest.raises(InputError, match='no whurs19 class folder with images was kept'):
        WHURS19(tmp_path, on_error='skip')


def test_rsi_cb_class_folders_below_category_folders(tmp_path: Path) -> None:
    # RSI-CB groups its classes under land-use categories (Li et al. 2017: agricultural land,
    # construction land, transportation, water, woodland, other); the category folders' exact
    # spelling on disk is not documented, so any nesting depth is accepted.
    _, prefix, suffix, pairs = RELEASES['RSI-CB256']
    categories = {'woodland': pairs[5:6], 'transportation and facilities': pairs[2:4]}
    for category, chosen in categories.items():
        _write_tree(tmp_path / prefix / category, [folder for folder, _ in chosen], suffix)
    dataset = RSICB256(tmp_path, split='all')
    assert sorted(dataset.classes) == ['avenue', 'highway', 'sparse forest']
    assert len(dataset.missing_classes) == 32

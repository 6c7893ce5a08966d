"""Class names and prompt templates of the zero-shot scene datasets.

Names and templates are those of the ITRA code base RemoteCLIP was evaluated with
(``itra/data/classname_and_prompt``), underscores replaced by spaces. Folder names on disk are
matched to them ignoring case and every character that is not a letter or digit
(``BareLand`` = ``bareLand``, ``harbor&port`` = ``harbor port``), plus the aliases below for
folders the releases name differently, typos included: MLRSNet's ``swimmimg_pool``, RSC11's
``stroagetanks``, RSSCN7's original ``aGrass`` ... ``gParking`` and the author-renamed
``RiverLake`` that ITRA's copy (``RS2800/RS_images_2800``) uses, EuroSAT's ``AnnualCrop`` ...
A dataset's ``classes`` lists the classes found on disk in this order (see
:class:`~rs_vlm.datasets.scene_dataset.SceneDataset`).
"""

__all__ = [
    'CLASSES',
    'DEFAULT_TEMPLATES',
    'EUROSAT_TEMPLATES',
    'FOLDER_ALIASES',
    'RESISC45_TEMPLATES',
    'TEMPLATES',
    'normalise_folder_name',
]

DEFAULT_TEMPLATES = [
    'a centered satellite photo of a {}.',
    'a centered satellite photo of the {} taken from above.',
    'an overhead view of the {}.',
    'an overhead view of a {}.',
    'an overhead view of {}.',
]

EUROSAT_TEMPLATES = [
    'a centered satellite photo of {}.',
    'a centered satellite photo of a {}.',
    'a centered satellite photo of the {}.',
]

RESISC45_TEMPLATES = [
    f'{view} of {article}{{}}.'
    for view in (
        'satellite imagery',
        'aerial imagery',
        'satellite photo',
        'aerial photo',
        'satellite view',
        'aerial view',
    )
    for article in ('', 'a ', 'the ')
]

_NWPU_STYLE = (
    'airplane, airport, baseball diamond, basketball court, beach, bridge, chaparral, church, '
    'circular farmland, cloud, commercial area, dense residential, desert, forest, freeway, '
    'golf course, ground track field, harbor, industrial area, intersection, island, lake, '
    'meadow, medium residential, mobile home park, mountain, overpass, palace, parking lot, '
    'railway, railway station, rectangular farmland, river, roundabout, runway, sea ice, ship, '
    'snowberg, sparse residential, stadium, storage tank, tennis court, terrace, '
    'thermal power station, wetland'
)

_OPTIMAL31 = (
    'airplane, airport, baseball diamond, basketball court, beach, bridge, chaparral, church, '
    'circular farmland, commercial area, dense residential, desert, forest, freeway, golf course, '
    'ground track field, harbor, industrial area, intersection, island, lake, meadow, '
    'medium residential, mobile home park, mountain, overpass, parking lot, railway, '
    'rectangular farmland, roundabout, runway'
)


def _split(names: str) -> list[str]:
    return [name.strip() for name in names.split(',')]


CLASSES: dict[str, list[str]] = {
    'aid': _split(
        'airport, dense residential, park, school, bareLand, desert, parking, sparse residential, '
        'baseball field, farmland, playground, square, beach, forest, pond, stadium, bridge, '
        'industrial, port, storage tanks, center, meadow, railway station, viaduct, church, '
        'medium residential, resort, commercial, mountain, river'
    ),
    'eurosat': _split(
        'annual crop land, forest, brushland or shrubland, highway or road, '
        'industrial buildings or commercial buildings, pasture land, permanent crop land, '
        'residential buildings or homes or apartments, river, lake or sea'
    ),
    'mlrsnet': _split(
        'airplane, airport, bare land, baseball diamond, basketball court, beach, bridge, '
        'chaparral, cloud, commercial area, dense residential area, desert, eroded farmland, '
        'farmland, forest, freeway, golf course, ground track field, harbor port, '
        'industrial area, intersection, island, lake, meadow, mobile home park, mountain, '
        'overpass, park, parking lot, parkway, railway, railway station, river, roundabout, '
        'shipping yard, snow berg, sparse residential area, stadium, storage tank, '
        'swimming pool, tennis court, terrace, transmission tower, vegetable greenhouse, '
        'wetland, wind turbine'
    ),
    'optimal31': _split(_OPTIMAL31),
    'patternnet': _split(
        'airplane, baseball field, basketball court, beach, bridge, cemetery, chaparral, '
        'christmas tree farm, closed road, coastal mansion, crosswalk, dense residential, '
        'ferry terminal, football field, forest, freeway, golf course, harbor, intersection, '
        'mobile home park, nursing home, oil gas field, oil well, overpass, parking lot, '
        'parking space, railway, river, runway, runway marking, shipping yard, solar panel, '
        'sparse residential, storage tank, swimming pool, tennis court, transformer station, '
        'wastewater treatment plant'
    ),
    'resisc45': _split(_NWPU_STYLE),
    'rsscn7': _split('river or lake, parking, industry, forest, field, resident, grass'),
    'rsc11': _split(
        'dense forest, high buildings, railway, sparse forest, grassland, low buildings, '
        'residential area, storage tanks, harbor, overpass, roads'
    ),
    'rsicb128': _split(
        'airport runway, artificial grassland, avenue, bare land, bridge, city avenue, '
        'city building, city green tree, city road, coastline, container, crossroads, dam, '
        'desert, dry farm, forest, fork road, grave, green farmland, highway, hirst, lake shore, '
        'mangrove, marina, mountain, mountain road, natural grassland, overpass, parking lot, '
        'pipeline, rail, residents, river, river protection forest, sand beach, sapling, sea, '
        'shrub wood, snow mountain, sparse forest, storage room, stream, tower, town, '
        'turning circle'
    ),
    'rsicb256': _split(
        'container, sea, highway, avenue, bare land, sparse forest, residents, parkinglot, '
        'sandbeach, storage room, mangrove, sapling, airplane, artificial grassland, town, '
        'snow mountain, river, stream, city building, green farmland, bridge, dry farm, forest, '
        'pipeline, shrubwood, crossroads, dam, coastline, lakeshore, hirst, mountain, '
        'airport runway, marina, river protection forest, desert'
    ),
    'siriwhu': _split(
        'meadow, water, harbor, pond, park, commercial, idle land, river, residential, '
        'overpass, agriculture, industrial'
    ),
    'ucmerced': _split(
        'agricultural, airplane, baseball diamond, beach, buildings, chaparral, '
        'dense residential, forest, freeway, golf course, harbor, intersection, '
        'medium residential, mobile home park, overpass, parking lot, river, runway, '
        'sparse residential, storage tanks, tennis court'
    ),
    'whurs19': _split(
        'airport, beach, bridge, Commercial, desert, farmland, footballField, forest, '
        'industrial, meadow, mountain, park, parking, pond, port, railwayStation, residential, '
        'river, viaduct'
    ),
}

TEMPLATES: dict[str, list[str]] = {
    name: EUROSAT_TEMPLATES
    if name == 'eurosat'
    else RESISC45_TEMPLATES
    if name == 'resisc45'
    else DEFAULT_TEMPLATES
    for name in CLASSES
}


def normalise_folder_name(name: str) -> str:
    """Lower-case ``name`` and keep only letters and digits (``Harbor&Port`` -> ``harborport``).

    Args:
        name: A folder or class name.

    Returns:
        The matching key.
    """
    return ''.join(character for character in name.lower() if character.isalnum())


#: Folder names (normalised) that do not match their class name, per dataset.
FOLDER_ALIASES: dict[str, dict[str, str]] = {
    'eurosat': {
        'annualcrop': 'annual crop land',
        'herbaceousvegetation': 'brushland or shrubland',
        'highway': 'highway or road',
        'industrial': 'industrial buildings or commercial buildings',
        'pasture': 'pasture land',
        'permanentcrop': 'permanent crop land',
        'residential': 'residential buildings or homes or apartments',
        'sealake': 'lake or sea',
    },
    'mlrsnet': {'swimmimgpool': 'swimming pool'},
    'rsc11': {'stroagetanks': 'storage tanks'},
    'rsscn7': {
        'riverlake': 'river or lake',
        'agrass': 'grass',
        'bfield': 'field',
        'cindustry': 'industry',
        'driverlake': 'river or lake',
        'eforest': 'forest',
        'fresident': 'resident',
        'gparking': 'parking',
    },
    'siriwhu': {'idleland': 'idle land'},
}

"""Russian cities and regions by name -> coordinates, from the bundled ``russian_cities.csv``.

The table holds ~85 cities (the largest ones and the marketplace's warehouse towns) with their
English and Russian names, common spellings, the region each is the centre of and its time
zone. A region's name maps to its centre's coordinates (Moscow Oblast to Moscow). Names are
matched case- and ``ё``-insensitively, ignoring a leading "г." / "город" and hyphens;
anything else is unknown: :func:`locate` returns None and the caller lists the name rather
than guessing.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class City:
    name: str  # English
    name_ru: str
    lat: float
    lon: float
    region_ru: str = ""  # the region (oblast, republic, krai) it is the centre of
    time_zone: str = "Europe/Moscow"  # IANA name of its clock

    @property
    def slug(self) -> str:
        """An id usable in a scenario: ``Rostov-on-Don`` -> ``rostov-on-don``."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


def normalise(name: str) -> str:
    text = name.strip().lower().replace("ё", "е")
    text = re.sub(r"^(г\.|город)\s*", "", text)
    return re.sub(r"[\s\-.]+", " ", text).strip()


@cache
def _index() -> dict[str, City]:
    index: dict[str, City] = {}
    cities: dict[str, str] = {}  # region names are the weaker key: cities win
    text = resources.files(__package__).joinpath("russian_cities.csv").read_text("utf-8")
    for row in csv.DictReader(text.splitlines()):
        city = City(row["city_en"], row["city_ru"], float(row["lat"]), float(row["lon"]),
                    row["region_ru"], row["time_zone"])
        names = [row["city_en"], row["city_ru"], *filter(None, row["aliases"].split(";"))]
        for name in names:
            index[normalise(name)] = city
            cities[normalise(name)] = city.name
        for region in (row["region_en"], row["region_ru"]):
            if region and normalise(region) not in cities:
                index.setdefault(normalise(region), city)
    return index


def locate(*names: str) -> City | None:
    """The first of ``names`` (city first, then region) found in the table, else None."""
    for name in names:
        if name and (city := _index().get(normalise(name))):
            return city
    return None


def nearest(lat: float, lon: float) -> City:
    """The table's city closest to a point (to label a warehouse known by coordinates)."""
    cities = {city.name: city for city in _index().values()}.values()
    return min(cities, key=lambda c: distance_km(lat, lon, c.lat, c.lon))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, Earth radius 6371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(a))

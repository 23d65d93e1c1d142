"""The network map of a run: the country's outline, every node, and flows with their direction.

Drawn on plain x/y axes in a Lambert conformal conic projection fitted to the nodes, so it
needs no base map from a CDN and looks the same offline. The outline of the country and its
neighbours comes from the ``countryinfo`` package, which ships low-resolution boundaries
(world.geo.json, derived from Natural Earth's public-domain 1:110m countries) in its wheel.

Labels are placed greedily around their points (with a leader line when moved away) so that
none overlaps another label or a node; the densest cluster of warehouses and sorting centres
(around Moscow on a Russian network) is drawn again, enlarged, in an inset beside the map.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import plotly.graph_objects as go

from reports.html import empty_figure, fmt

#: the country outlined (the bundled scenarios model an Ozon network in Russia)
COUNTRY = "Russia"
EARTH_RADIUS_KM = 6371.0
#: nodes nearer than this share one place label (a city's warehouse, sorting centre and hub)
PLACE_KM = 30.0
#: nodes of these kinds are labelled one by one; regions and hubs by their place's name
_MAJOR = ("warehouse", "sorting_centre")
_NODE_STYLE = {  # kind -> (symbol, colour, size)
    "region": ("circle-open", "#2b8a3e", 15),
    "hub": ("triangle-up", "#5f3dc4", 8),
    "sorting_centre": ("diamond", "#d9480f", 12),
    "warehouse": ("square", "#0b3d91", 11),
}
_FLOW_COLOUR = "rgba(11,61,145,0.5)"
_PAGE_PX = 1270  # a figure's drawn width on a 1400-px wide page, for label placement
_MAIN_SHARE = 0.74  # of the width, for the main map when an inset sits beside it
_CHAR_PX, _LINE_PX = 6.0, 13


@dataclass(frozen=True)
class Projection:
    """Spherical Lambert conformal conic (Snyder, Map Projections, 1987, eqs. 15-1 to 15-4)."""

    lon0: float
    lat1: float
    lat2: float

    @classmethod
    def fit(cls, lats: Sequence[float], lons: Sequence[float]) -> Projection:
        low, high = min(lats), max(lats)
        pad = max((high - low) / 6, 2.0)
        return cls((min(lons) + max(lons)) / 2, low + pad, high - pad if high - pad > low + pad
                   else low + pad + 1.0)

    def __call__(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Projected (x, y) in km of ``lon``, ``lat`` in degrees."""
        p1, p2 = math.radians(self.lat1), math.radians(self.lat2)

        def t(p: Any) -> Any:
            return np.tan(np.pi / 4 + np.asarray(p) / 2)

        n = math.log(math.cos(p1) / math.cos(p2)) / math.log(t(p2) / t(p1))
        f = math.cos(p1) * t(p1) ** n / n
        rho = EARTH_RADIUS_KM * f / t(np.radians(np.clip(lat, -85, 85))) ** n
        rho0 = EARTH_RADIUS_KM * f / t(math.radians((self.lat1 + self.lat2) / 2)) ** n
        dlon = (np.asarray(lon, dtype=float) - self.lon0 + 180) % 360 - 180
        theta = n * np.radians(dlon)
        return rho * np.sin(theta), rho0 - rho * np.cos(theta)


@cache
def outlines(country: str = COUNTRY) -> tuple[tuple[str, tuple[np.ndarray, ...]], ...]:
    """(name, outer rings as (n, 2) lon/lat arrays) of ``country`` first, then its neighbours."""
    from countryinfo import CountryInfo

    out = []
    info = CountryInfo(country)
    for code in [country, *info.borders()]:
        rings = []
        for feature in CountryInfo(code).geo_json()["features"]:
            geometry = feature["geometry"]
            polygons = (geometry["coordinates"] if geometry["type"] == "MultiPolygon"
                        else [geometry["coordinates"]])
            rings += [np.asarray(polygon[0], dtype=float) for polygon in polygons]
        out.append((CountryInfo(code).name() if code != country else country, tuple(rings)))
    return tuple(out)


@dataclass
class Label:
    x: float  # the labelled point, km
    y: float
    text: str
    lines: int = 1
    colour: str = "#1f2933"

    def size_px(self) -> tuple[float, float]:
        width = max(len(part) for part in _plain(self.text).split("\n")) * _CHAR_PX + 6
        return width, self.lines * _LINE_PX + 4


def _plain(text: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "", text.replace("<br>", "\n"))


#: offsets (px, y down) tried for a label's centre, nearest first
_OFFSETS = [(0, -1), (0, 1), (1, 0), (-1, 0), (1, -1), (-1, -1), (1, 1), (-1, 1)]


def place_labels(labels: list[Label], points: np.ndarray, km_per_px: float,
                 view: tuple[float, float, float, float] | None = None,
                 ) -> list[tuple[float, float, float, float]]:
    """A box (x0, y0, x1, y1, in px, y down) for each label that overlaps no other box and no
    point, inside ``view`` (x0, y0, x1, y1 in km) when given.

    Greedy: each label (in the given order) takes the nearest free position among eight
    directions at growing distances; boxes of the points themselves (10 px) are obstacles.
    """
    px = points / km_per_px * np.array([1, -1])  # screen px, y down
    taken = [(x - 5, y - 5, x + 5, y + 5) for x, y in px]
    if view is not None:
        x0, y0, x1, y1 = (v / km_per_px for v in view)
        far = 1e7
        taken += [(-far, -far, x0, far), (x1, -far, far, far),
                  (-far, -far, far, -y1), (-far, -y0, far, far)]
    boxes = []
    for label in labels:
        w, h = label.size_px()
        cx0, cy0 = label.x / km_per_px, -label.y / km_per_px
        best = None
        for ring in range(5):
            for dx, dy in _OFFSETS:
                cx = cx0 + dx * (w / 2 + 7 + 16 * ring)
                cy = cy0 + dy * (h / 2 + 6 + 16 * ring)
                box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                if not any(_overlap(box, other) for other in taken):
                    best = box
                    break
            if best:
                break
        best = best or (cx0 - w / 2, cy0 - h - 8, cx0 + w / 2, cy0 - 8)
        taken.append(best)
        boxes.append(best)
    return boxes


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _clusters(xy: np.ndarray, link_km: float) -> list[list[int]]:
    """Groups of points chained by distances under ``link_km`` (single linkage)."""
    parent = list(range(len(xy)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    for i, j in zip(*np.nonzero(np.triu(d < link_km, 1)), strict=True):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(xy)):
        groups[root(i)].append(i)
    return list(groups.values())


def _place_name(members: list[dict[str, Any]]) -> str:
    cities = Counter(str(n.get("city") or n["id"]).split(",")[0].strip() for n in members)
    return cities.most_common(1)[0][0]


class _Map:
    """One drawing of the network onto a pair of axes (the map itself, or the inset)."""

    def __init__(self, fig: go.Figure, nodes: list[dict], xy: np.ndarray, flows: list[dict],
                 axes: tuple[str, str], km_per_px: float, legend: bool) -> None:
        self.fig, self.nodes, self.xy, self.flows = fig, nodes, xy, flows
        self.xa, self.ya = axes
        self.km_per_px, self.legend = km_per_px, legend
        self.index = {n["id"]: i for i, n in enumerate(nodes)}

    def outline(self, proj: Projection) -> None:
        for k, (name, rings) in enumerate(outlines()):
            xs: list[float | None] = []
            ys: list[float | None] = []
            for ring in rings:
                x, y = proj(ring[:, 0], ring[:, 1])
                xs += [*x.tolist(), None]
                ys += [*y.tolist(), None]
            home = k == 0
            self.fig.add_scatter(
                x=xs, y=ys, mode="lines", fill="toself", hoverinfo="skip",
                fillcolor="#eef1f4" if home else "rgba(0,0,0,0)",
                line={"color": "#7b8794" if home else "#cbd2d9", "width": 1.2 if home else 0.8},
                name=f"{name} (outline)" if home else name, showlegend=self.legend and home,
                legendgroup="outline", xaxis=self.xa, yaxis=self.ya)

    def flow_lines(self) -> None:
        flows = [f for f in self.flows if f["from"] in self.index and f["to"] in self.index]
        if not flows:
            return
        parcels = np.array([f["parcels"] for f in flows], dtype=float)
        edges = np.unique(np.quantile(parcels, [0, 0.5, 0.8, 0.95, 1.0]))
        top = max(len(edges) - 2, 0)
        klass = np.clip(np.searchsorted(edges, parcels, side="right") - 1, 0, top)
        for k in sorted(set(klass.tolist())):
            chosen = [f for f, c in zip(flows, klass, strict=True) if c == k]
            xs: list[float | None] = []
            ys: list[float | None] = []
            for f in chosen:
                a, b = self.xy[self.index[f["from"]]], self.xy[self.index[f["to"]]]
                xs += [a[0], b[0], None]
                ys += [a[1], b[1], None]
                self._arrow(a, b, 1 + 1.5 * k)
            low = min(f["parcels"] for f in chosen)
            high = max(f["parcels"] for f in chosen)
            self.fig.add_scatter(
                x=xs, y=ys, mode="lines", name=f"flows {fmt(low)}–{fmt(high)} parcels",
                line={"width": 1 + 1.5 * k, "color": _FLOW_COLOUR}, hoverinfo="skip",
                legendgroup=f"flows{k}", showlegend=self.legend, xaxis=self.xa, yaxis=self.ya)
        mid = np.array([(self.xy[self.index[f["from"]]] + self.xy[self.index[f["to"]]]) / 2
                        for f in flows])
        self.fig.add_scatter(
            x=mid[:, 0], y=mid[:, 1], mode="markers", name="flow volume", showlegend=False,
            marker={"size": 6, "color": "rgba(11,61,145,0.01)"}, hoverinfo="text",
            text=[f"{f['from']} → {f['to']}: {f['parcels']:,} parcels" for f in flows],
            xaxis=self.xa, yaxis=self.ya)

    def _arrow(self, a: np.ndarray, b: np.ndarray, width: float) -> None:
        """An arrowhead at 60 % of the way from ``a`` to ``b`` (skipped when under 24 px)."""
        if np.hypot(*(b - a)) / self.km_per_px < 24:
            return
        tail, head = a + 0.45 * (b - a), a + 0.6 * (b - a)
        self.fig.add_annotation(
            x=head[0], y=head[1], ax=tail[0], ay=tail[1], xref=self.xa, yref=self.ya,
            axref=self.xa, ayref=self.ya, showarrow=True, arrowhead=2, arrowsize=1.4,
            arrowwidth=max(1.0, width * 0.8), arrowcolor="rgba(11,61,145,0.85)", text="")

    def markers(self) -> None:
        by_kind: dict[str, list[int]] = defaultdict(list)
        for i, n in enumerate(self.nodes):
            by_kind[n.get("kind", "node")].append(i)
        for kind in sorted(by_kind, key=lambda k: list(_NODE_STYLE).index(k)
                           if k in _NODE_STYLE else -1):
            members = by_kind[kind]
            symbol, colour, size = _NODE_STYLE.get(kind, ("circle", "#868e96", 8))
            self.fig.add_scatter(
                x=self.xy[members, 0], y=self.xy[members, 1], mode="markers",
                name=kind.replace("_", " "), legendgroup=kind, showlegend=self.legend,
                marker={"symbol": symbol, "color": colour, "size": size,
                        "line": {"width": 2 if kind == "region" else 0.6,
                                 "color": colour if kind == "region" else "#fff"}},
                customdata=[self.nodes[i]["id"] for i in members],
                hovertext=[_hover(self.nodes[i]) for i in members], hoverinfo="text",
                xaxis=self.xa, yaxis=self.ya)

    def labels(self, labels: list[Label], view: tuple[float, float, float, float]
               ) -> list[tuple[float, float, float, float]]:
        boxes = place_labels(labels, self.xy, self.km_per_px, view)
        for label, box in zip(labels, boxes, strict=True):
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            px, py = label.x / self.km_per_px, -label.y / self.km_per_px
            far = not (box[0] - 9 <= px <= box[2] + 9 and box[1] - 9 <= py <= box[3] + 9)
            self.fig.add_annotation(
                x=label.x, y=label.y, xref=self.xa, yref=self.ya, text=label.text,
                ax=cx - px, ay=cy - py, showarrow=True, arrowhead=0,
                arrowwidth=1.0 if far else 0.1, arrowcolor="#52606d" if far else "rgba(0,0,0,0)",
                font={"size": 10, "color": label.colour}, bgcolor="rgba(255,255,255,0.75)",
                borderpad=1)
        return boxes


def _hover(node: dict[str, Any]) -> str:
    return f"{node['id']} · {node.get('name', '')} ({node.get('city', '')})"


def _node_label(i: int, nodes: list[dict], xy: np.ndarray) -> Label:
    n = nodes[i]
    colour = _NODE_STYLE.get(n.get("kind", ""), ("", "#1f2933", 0))[1]
    return Label(float(xy[i, 0]), float(xy[i, 1]), n["id"], colour=colour)


def _labels_per_place(groups: list[list[int]], nodes: list[dict], xy: np.ndarray) -> list[Label]:
    """One label per place: its name, with the ids of its warehouses and sorting centres."""
    out = []
    for g in groups:
        majors = [nodes[i]["id"] for i in g if nodes[i].get("kind") in _MAJOR]
        name = _place_name([nodes[i] for i in g])
        centre = xy[g].mean(axis=0)
        text = f"<b>{name}</b>" + (f"<br>{' · '.join(majors)}" if majors else "")
        out.append(Label(float(centre[0]), float(centre[1]), text, 2 if majors else 1))
    return sorted(out, key=lambda label: -label.lines)


def _draw_inset(fig: go.Figure, nodes: list[dict], xy: np.ndarray, flows: list[dict],
                proj: Projection, crowded: list[int]) -> tuple[list[int], str]:
    """Draw the ``crowded`` nodes' area enlarged beside the map, framed on the map too;
    returns the nodes inside the frame and the area's name."""
    side = max(float(np.ptp(xy[crowded], axis=0).max()), 60.0)
    low, high = xy[crowded].min(axis=0) - 0.2 * side, xy[crowded].max(axis=0) + 0.2 * side
    inside = [i for i in range(len(nodes)) if np.all(xy[i] >= low) and np.all(xy[i] <= high)]
    area = _place_name([nodes[i] for i in inside])
    fig.add_shape(type="rect", x0=low[0], y0=low[1], x1=high[0], y1=high[1], xref="x",
                  yref="y", line={"color": "#52606d", "width": 1, "dash": "dot"})
    km_per_px = float(max(high - low)) / (_PAGE_PX * (1 - _MAIN_SHARE - 0.02))
    zoom = _Map(fig, nodes, xy, flows, ("x2", "y2"), km_per_px, legend=False)
    zoom.outline(proj)
    zoom.flow_lines()
    zoom.markers()
    majors = [i for i in inside if nodes[i].get("kind") in _MAJOR]
    others = [i for i in inside if i not in majors]
    places = [[others[j] for j in g] for g in _clusters(xy[others], PLACE_KM)] if others else []
    zoom.labels([_node_label(i, nodes, xy) for i in majors]
                + _labels_per_place(places, nodes, xy), (*low, *high))
    fig.update_layout(
        xaxis2={"domain": [_MAIN_SHARE + 0.02, 1], "range": [low[0], high[0]], "visible": False},
        yaxis2={"domain": [0.25, 0.95], "range": [low[1], high[1]], "visible": False,
                "scaleanchor": "x2", "anchor": "x2"},
    )
    fig.add_annotation(text=f"<b>{area} area</b>, enlarged", xref="x2 domain",
                       yref="y2 domain", x=0, y=1.0, xanchor="left", yanchor="bottom",
                       showarrow=False, font={"size": 12})
    return inside, area


def network_figure(result: Any) -> go.Figure:
    """The map of ``result.tables['nodes']`` with ``result.tables['flows']``."""
    nodes = [n for n in result.tables.get("nodes") or [] if n.get("lat") is not None]
    if not nodes:
        return empty_figure("no node table in this result")
    lats = [float(n["lat"]) for n in nodes]
    lons = [float(n["lon"]) for n in nodes]
    country = np.concatenate(outlines()[0][1])
    country_lon = (country[:, 0] - min(lons) + 180) % 360 - 180 + min(lons)  # unwrap at 180°
    whole = np.ptp(lons) >= 0.3 * np.ptp(country_lon)  # a country-wide network: show it all
    if whole:
        lats, lons = [*lats, *country[:, 1]], [*lons, *country_lon]
    proj = Projection.fit(lats, lons)
    xy = np.column_stack(proj(np.array([float(n["lon"]) for n in nodes]),
                              np.array([float(n["lat"]) for n in nodes])))
    shown = np.column_stack(proj(np.array(lons), np.array(lats))) if whole else xy
    flows = [f for f in result.tables.get("flows") or [] if f["parcels"] > 0]
    extent = float(max(np.ptp(xy, axis=0).max(), 400.0))
    pad = max(0.04 * np.ptp(shown, axis=0).max(), 150.0)
    x_range = [shown[:, 0].min() - pad, shown[:, 0].max() + pad]
    y_range = [shown[:, 1].min() - pad, shown[:, 1].max() + pad]
    view = (x_range[0], y_range[0], x_range[1], y_range[1])

    majors = [i for i, n in enumerate(nodes) if n.get("kind") in _MAJOR]
    crowded = max(_clusters(xy[majors], extent / 25), key=len) if majors else []
    inset = [majors[i] for i in crowded] if len(crowded) >= 4 else []
    km_per_px = (x_range[1] - x_range[0]) / (_PAGE_PX * (_MAIN_SHARE if inset else 1.0))
    height = int(min(900, max(420, (y_range[1] - y_range[0]) / km_per_px + 100)))

    fig = go.Figure()
    main = _Map(fig, nodes, xy, flows, ("x", "y"), km_per_px, legend=True)
    main.outline(proj)
    main.flow_lines()
    main.markers()
    groups = _clusters(xy, max(extent / 100, PLACE_KM))
    labels = []
    if inset:
        inside, area = _draw_inset(fig, nodes, xy, flows, proj, inset)
        groups = [g for g in groups if not set(g) & set(inside)]
        labels.append(Label(*xy[inside].mean(axis=0).tolist(),
                            f"<b>{area} area</b> (inset →)"))
        fig.update_layout(xaxis={"domain": [0, _MAIN_SHARE]})
    main.labels(labels + _labels_per_place(groups, nodes, xy), view)
    fig.update_layout(
        xaxis={"range": x_range, "visible": False},
        yaxis={"range": y_range, "visible": False, "scaleanchor": "x"},
        height=height, plot_bgcolor="#f8fbff", hovermode="closest",
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.02, "yanchor": "top"},
    )
    return fig

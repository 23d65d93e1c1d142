"""Network: graph, route tables by time and by cost, re-routing, faults, the live view."""

from __future__ import annotations

import math

import pytest

from simulator.network import LiveNetworkView, Network, mean_wait_to_next
from simulator.policies.base import NetworkView
from simulator.scenario import load_scenario, parse_scenario

from .model_worlds import smoke_dict, stressed


@pytest.fixture(scope="module")
def smoke(smoke_path_net):
    return Network(load_scenario(smoke_path_net))


@pytest.fixture(scope="module")
def smoke_path_net():
    from .conftest import SCENARIOS

    return SCENARIOS / "smoke.yaml"


def test_mean_wait_to_next_departure() -> None:
    assert mean_wait_to_next([]) == 0
    assert mean_wait_to_next([600]) == 720  # once a day: half a day on average
    assert mean_wait_to_next([0, 360, 720, 1080]) == 180
    assert mean_wait_to_next([0, 60]) == pytest.approx((60**2 + 1380**2) / 2880)


def test_graph_and_routes_of_smoke(smoke: Network) -> None:
    assert smoke.graph.number_of_nodes() == 7 and smoke.graph.number_of_edges() == 7
    ids = smoke.ids
    path = [ids[i] for i in smoke.routes[smoke.table[0, 0]]]
    assert path == ["WH-MSK", "SC-MSK", "H-MSK", "R-MSK"]
    # by hand: WH->SC 6-hourly trucks (wait 180) + 2 h; SC wave 15/2 + cut-offs 12-hourly (360);
    # SC->H-MSK 12-hourly (360) + 2 h; hub wave 15/2; courier 6 h
    assert smoke.transit_hours[0, 0] == pytest.approx((180 + 120 + 7.5 + 360 + 360 + 120 + 7.5
                                                       + 360) / 60)
    assert smoke.cost_per_parcel[0, 0] == 15 + 12 + 90
    spb = [ids[i] for i in smoke.routes[smoke.table[1, 1]]]
    assert spb == ["WH-SPB", "H-SPB", "R-SPB"]  # the direct lane beats going via Moscow
    assert list(smoke.home_warehouse()) == [0, 1]


def test_routing_by_cost_prefers_the_cheaper_path() -> None:
    d = smoke_dict()
    d["network"]["lanes"].append({"from": "WH-MSK", "to": "H-SPB", "cost_per_parcel_rub": 10,
                                  "transit_hours": {"dist": "constant", "value": 40}})
    by_time = Network(parse_scenario(d))
    d["network"]["routing"] = "cost"
    by_cost = Network(parse_scenario(d))
    msk, spb = 0, 1
    assert by_cost.cost_per_parcel[msk, spb] == 10 + 90
    assert by_cost.cost_per_parcel[msk, spb] < by_time.cost_per_parcel[msk, spb]
    assert by_cost.transit_hours[msk, spb] > by_time.transit_hours[msk, spb]


def test_reroute_avoids_closed_nodes_and_unreachable_is_inf() -> None:
    net = Network(stressed("reroute"))
    wh, sc, hub, region = (net.index[x] for x in ("WH-MSK", "SC-MSK", "H-MSK", "R-MSK"))
    assert sc in net.routes[net.table[0, 0]]
    route = net.reroute(wh, region, frozenset({sc}))
    assert net.routes[route] == (wh, hub, region)
    assert net.reroute(wh, region, frozenset({sc, hub})) == -1
    d = smoke_dict()
    d["network"]["lanes"] = [lane for lane in d["network"]["lanes"] if lane["from"] != "WH-SPB"]
    cut = Network(parse_scenario(d))
    assert cut.table[1, 0] == -1 and math.isinf(cut.transit_hours[1, 0])


def test_faults_windows() -> None:
    net = Network(stressed())
    sc, wh = net.index["SC-MSK"], net.index["WH-SPB"]
    assert net.faults.capacity_factor(sc, 9 * 60) == 1
    assert net.faults.capacity_factor(sc, 10 * 60) == 0
    assert net.faults.capacity_factor(sc, 20 * 60) == 1
    assert sorted(node for _, _, node in net.faults.closures()) == sorted([sc, wh])
    lane = next(i for i, ln in enumerate(net.lanes) if ln.spec.from_ == "H-MSK")
    assert net.faults.lane_delay(lane, 60) == 300 and net.faults.lane_delay(lane, 700) == 0


def test_live_view_is_a_network_view(smoke: Network) -> None:
    view = LiveNetworkView(smoke, [100.0, 50.0])
    assert isinstance(view, NetworkView)
    assert view.warehouses == ("WH-MSK", "WH-SPB")
    assert view.transit_hours("WH-MSK", "R-MSK") == pytest.approx(smoke.transit_hours[0, 0])
    assert view.cost_per_parcel("WH-SPB", "R-SPB") == 110
    assert math.isinf(view.transit_hours("WH-MSK", "nowhere"))
    view.backlog_units[1] = 125
    assert view.load("WH-SPB") == 2.5 and view.load("WH-MSK") == 0
    view.set_open("WH-MSK", False)
    assert not view.is_open("WH-MSK") and view.is_open("WH-SPB")

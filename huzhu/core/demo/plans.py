"""Plans: how big each community of the demo is (the full demo and ``--small``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommunityPlan:
    name: str
    name_en: str
    district: str
    address: str
    latitude: float
    longitude: float
    buildings: int
    floors: int
    rooms_per_floor: int
    volunteers: int
    residents: int
    managed_buildings: tuple[int, ...]  # building numbers that get a building manager
    group_size: tuple[int, int]  # members per leaf functional group (min, max)
    has_groups: bool


def _plans(small: bool) -> tuple[CommunityPlan, CommunityPlan]:
    if small:
        return (
            CommunityPlan(
                "长风花园",
                "Changfeng Garden",
                "普陀区长风新村街道",
                "上海市普陀区云岭东路 288 弄",
                31.25,
                121.40,
                buildings=4,
                floors=3,
                rooms_per_floor=2,
                volunteers=30,
                residents=12,
                managed_buildings=(1, 2, 3, 4),
                group_size=(1, 2),
                has_groups=True,
            ),
            CommunityPlan(
                "桃浦新苑",
                "Taopu Xinyuan",
                "普陀区桃浦镇",
                "上海市普陀区真南路 4518 弄",
                31.282,
                121.372,
                buildings=2,
                floors=2,
                rooms_per_floor=2,
                volunteers=8,
                residents=4,
                managed_buildings=(1,),
                group_size=(0, 0),
                has_groups=False,
            ),
        )
    return (
        CommunityPlan(
            "长风花园",
            "Changfeng Garden",
            "普陀区长风新村街道",
            "上海市普陀区云岭东路 288 弄",
            31.25,
            121.40,
            buildings=60,
            floors=20,
            rooms_per_floor=6,
            volunteers=300,
            residents=240,
            managed_buildings=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 22, 31, 44, 57),
            group_size=(6, 10),
            has_groups=True,
        ),
        CommunityPlan(
            "桃浦新苑",
            "Taopu Xinyuan",
            "普陀区桃浦镇",
            "上海市普陀区真南路 4518 弄",
            31.282,
            121.372,
            buildings=8,
            floors=6,
            rooms_per_floor=4,
            volunteers=60,
            residents=60,
            managed_buildings=(1, 2, 3),
            group_size=(0, 0),
            has_groups=False,
        ),
    )

"""The per-building status board as JSON (the page's data): next testing sessions with this
building's counts, the live group buys with its delivery progress, the public notices, who is
responsible for what (masked phones) and the FAQ."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Schema

from huzhu.accounts.api.schemas import PathId
from huzhu.core.api import ERRORS
from huzhu.lockdown import board as boards
from huzhu.lockdown.api.common import actor_of, router


class BoardSessionOut(Schema):
    id: int
    title: str
    kind: str
    place: str
    starts_at: dt.datetime
    households: int
    tested: int
    pending: int
    absent: int
    called: int


class BoardGroupBuyOut(Schema):
    id: int
    title: str
    supplier_name: str
    state: str
    deadline: dt.datetime
    delivery_date: dt.date | None
    orders: int
    delivered: int
    confirmed: int
    progress: str


class BoardNoticeOut(Schema):
    id: int
    title: str
    body: str
    sent_at: dt.datetime | None


class BoardContactOut(Schema):
    role: str
    group: str
    name: str
    masked_phone: str


class BoardFaqOut(Schema):
    id: int
    question: str
    answer: str
    category: str


class BoardOut(Schema):
    building_id: int
    building: str
    sessions: list[BoardSessionOut]
    group_buys: list[BoardGroupBuyOut]
    notices: list[BoardNoticeOut]
    contacts: list[BoardContactOut]
    faq: list[BoardFaqOut]


@router.get(
    "lockdown/buildings/{int:building_id}/board",
    response={200: BoardOut, **ERRORS},
    operation_id="huzhu_lockdown_api_building_board",
)
def building_board(request: HttpRequest, building_id: PathId) -> BoardOut:
    """A building's status board; anyone of its community (404 outside it)."""
    building = boards.building_for(actor_of(request), building_id)
    b = boards.building_board(building)
    return BoardOut(
        building_id=building.pk,
        building=building.name,
        sessions=[
            BoardSessionOut(
                id=s.session.pk,
                title=s.session.title,
                kind=s.session.kind,
                place=s.session.place,
                starts_at=s.session.starts_at,
                households=s.total,
                tested=s.tested,
                pending=s.pending,
                absent=s.absent,
                called=s.called,
            )
            for s in b.sessions
        ],
        group_buys=[
            BoardGroupBuyOut(
                id=g.group_buy.pk,
                title=g.group_buy.title,
                supplier_name=g.group_buy.supplier_name,
                state=g.group_buy.state,
                deadline=g.group_buy.deadline,
                delivery_date=g.group_buy.delivery_date,
                orders=g.orders,
                delivered=g.delivered,
                confirmed=g.confirmed,
                progress=boards.describe_group_buy(g),
            )
            for g in b.group_buys
        ],
        notices=[
            BoardNoticeOut(id=n.pk, title=n.title, body=n.body, sent_at=n.sent_at)
            for n in b.notices
        ],
        contacts=[BoardContactOut(**c.__dict__) for c in b.contacts],
        faq=[
            BoardFaqOut(id=f.pk, question=f.question, answer=f.answer, category=f.category)
            for f in b.faq
        ],
    )

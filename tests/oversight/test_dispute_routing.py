"""Who coordinates a jurisdiction dispute: seed 004 art. 6 ¶2.

同级行政执法机关之间的行政执法职责争议由本级综合行政执法指导机构协调处理。跨层级、跨区域行政执法机关之间的
行政执法职责争议由市级综合行政执法指导机构协调处理。乡镇人民政府、街道办事处与县级行政执法机关的行政执法职责
争议由县(市、区)综合行政执法指导机构协调处理。

The office is that of the parties' lowest common superior, not party A's county (issue 32).
"""

import pytest
from sqlalchemy import func, select

from dispatch.errors import Conflict
from dispatch.oversight import disputes
from dispatch.oversight.models import JurisdictionDispute, OversightBody
from dispatch.store.models import Authority, Event, Region
from tests.oversight.factories import squad_id

POINTS = [{"point": "跨县海域养殖管辖", "view_a": "属岱山", "basis_a": "某条", "view_b": "属嵊泗", "basis_b": "某条"}]


def _zhoushan(session, *, city_office: bool = True) -> Authority:
    """Zhoushan city over Shengsi and a second county, Daishan, with its bureau."""
    city = Region(code="330900", level="city", name_zh="舟山市", name_en="Zhoushan City")
    session.add(city)
    session.flush()
    session.scalar(select(Region).where(Region.code == "330922")).parent_id = city.id
    daishan = Region(code="330921", level="county", name_zh="岱山县", name_en="Daishan County", parent_id=city.id)
    session.add(daishan)
    session.flush()
    bureau = Authority(
        code="daishan-bureau", name_zh="岱山县综合行政执法局", name_en="Daishan bureau",
        kind="county_bureau", domain="comprehensive", region_id=daishan.id,
    )  # fmt: skip
    session.add(bureau)
    kinds = ("coordination_office", "staffing_office", "justice_bureau", "government")
    if city_office:
        for kind in kinds:
            session.add(
                OversightBody(code=f"zhoushan-{kind}", kind=kind, name_zh=f"舟山市{kind}", name_en=kind, region=city)
            )
    session.commit()
    return bureau


def _open(session, client, party_a: str, party_b: str) -> JurisdictionDispute:
    body = {"party_a": party_a, "party_b": party_b, "subject": "跨县海域养殖管辖争议",
            "provisional_squad_id": squad_id(client, "cb-caiyuan")}  # fmt: skip
    return disputes.open_dispute(session, body, actor="test")


def test_seed004_art6_a_cross_county_dispute_goes_to_the_citys_office_not_party_as_county(session, client):
    _zhoushan(session)
    dispute = _open(session, client, "daishan-bureau", "county-bureau")
    disputes.step(session, dispute.id, {"step": "request", "points": POINTS}, actor="test")
    session.commit()
    event = session.scalar(select(Event).where(Event.action == "dispute.request", Event.entity_id == dispute.id))
    assert event.data["to"] == "zhoushan-coordination_office"
    assert [b.code for b in disputes._step_takers(session, dispute, "coordinate")] == ["zhoushan-coordination_office"]
    assert [b.code for b in disputes._step_takers(session, dispute, "decide")] == ["zhoushan-government"]
    disputes.step(session, dispute.id, {"step": "coordinate", "opinion": "未达成一致", "agreed": False}, actor="t")
    disputes.step(session, dispute.id, {"step": "consult", "opinion": "会商", "accepted": False}, actor="t")
    session.commit()
    consult = session.scalar(select(Event).where(Event.action == "dispute.consult", Event.entity_id == dispute.id))
    assert consult.data["with"] == ["zhoushan-staffing_office", "zhoushan-justice_bureau"]
    assert consult.data["proposal_to"] == "zhoushan-government"


def test_seed004_art6_a_township_and_a_county_department_go_to_the_county_office(session, client):
    dispute = _open(session, client, "yangshan-gov", "dept-culture")
    disputes.step(session, dispute.id, {"step": "request", "points": POINTS}, actor="test")
    session.commit()
    event = session.scalar(select(Event).where(Event.action == "dispute.request", Event.entity_id == dispute.id))
    assert event.data["to"] == "shengsi-coordination"


def test_seed004_art6_a_cross_county_dispute_without_a_common_office_is_refused_with_the_rule_named(session, client):
    _zhoushan(session, city_office=False)
    before = session.scalar(select(func.count()).select_from(JurisdictionDispute))
    response = client.post(
        "/api/v1/disputes",
        json={"party_a": "county-bureau", "party_b": "daishan-bureau", "subject": "跨县海域养殖管辖争议",
              "provisional_squad_id": squad_id(client, "cb-caiyuan")},
    )  # fmt: skip
    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "no_common_superior" and "art. 6" in error["message"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(JurisdictionDispute)) == before
    with pytest.raises(Conflict):  # party A's county office does not take it either
        disputes.dispute_body(session, "coordination_office", *session.scalars(
            select(Authority).where(Authority.code.in_(("county-bureau", "daishan-bureau"))).order_by(Authority.code)
        ).all())  # fmt: skip

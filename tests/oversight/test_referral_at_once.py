"""Referral "at once" (立即, seed 000 §2.3), escalated by the server's own scheduler.

综合执法部门...发现...涉及其他部门管辖的违法行为的,应立即通知相关部门,接到通知的部门应立即派执法人员进行处理,
对接到通知后不能说明理由又拒不处理的,综合执法部门应向县人民政府报告.
Shengsi's set time is one hour (gis/data/shengsi/oversight.yaml, dispatch.oversight.referrals);
the "escalation" job of dispatch.live.duty reports the silent department, with nobody's cron.
"""

import datetime as dt
import time

from sqlalchemy import select

from dispatch.oversight import referrals
from dispatch.oversight.models import Referral
from dispatch.oversight.reference import load_oversight_into, oversight_loaded
from dispatch.store.models import Event
from gis.clock import CHINA
from tests.conftest import SHENGSI

LEAD = {"to": "dept-emergency", "matter": "EM-001", "summary": "巡查发现某加油站违规储存危险化学品"}


def test_seed000_2_3_at_once_is_one_hour_not_a_day(session, client):
    t0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=CHINA)
    referral = referrals.refer(session, dict(LEAD, referred_at=t0.isoformat()), actor="cb-caiyuan", now=t0)
    assert referral.respond_by - referral.referred_at == dt.timedelta(hours=1)


def test_seed000_2_3_the_servers_scheduler_escalates_a_silent_department(start_server, store):
    if not oversight_loaded(store):
        load_oversight_into(store, SHENGSI)
    now = dt.datetime.now(CHINA)
    silent = referrals.refer(store, dict(LEAD, referred_at=(now - dt.timedelta(hours=2)).isoformat()), actor="t")
    # Refusal side: a department inside its hour is not reported.
    within = referrals.refer(store, dict(LEAD, referred_at=(now - dt.timedelta(minutes=20)).isoformat()), actor="t")
    store.commit()
    start_server(SCHEDULE_ESCALATION_S="1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        store.rollback()
        if store.get(Referral, silent.id).status == "escalated":
            break
        time.sleep(0.3)
    store.rollback()
    assert store.get(Referral, silent.id).status == "escalated"
    assert store.get(Referral, within.id).status == "referred"
    event = store.scalar(select(Event).where(Event.action == "referral.escalated", Event.entity_id == silent.id))
    assert event.actor == "scheduler" and event.data["to"] == "shengsi-gov"

"""Words for the keys of the annual report's figures on the supervisor's pages (zh and en).

The report's JSON keeps its keys; pages show these labels, and a key not listed here as words
(underscores to spaces), never run together. Seeds are cited by their documents' titles.
"""

from __future__ import annotations

from flask import Flask

from dispatch.oversight.calendar import calendar_status
from dispatch.store.db import db
from gis.clock import local_day

LABELS = {
    "legal_reviews": ("法制审核", "Legal reviews"),
    "penalty_decisions": ("处罚决定", "Penalty decisions"),
    "assistance_requests": ("执法协助", "Assistance requests"),
    "referrals": ("线索移送", "Referrals of leads"),
    "criminal_referrals": ("行刑衔接移送", "Criminal referrals"),
    "disputes": ("管辖争议", "Jurisdiction disputes"),
    "supervision": ("执法监督", "Supervision"),
    "training": ("培训", "Training"),
    "sharing": ("信息共享", "Information sharing"),
    "meetings": ("联席会议", "Joint meetings"),
    "campaigns": ("专项行动", "Campaigns"),
    "pending": ("待审", "pending"),
    "passed": ("通过", "passed"),
    "failed": ("未通过", "failed"),
    "issued": ("已作出", "issued"),
    "changed": ("已变更", "changed"),
    "revoked": ("已撤销", "revoked"),
    "sent": ("已发出", "sent"),
    "answered_on_time": ("按期答复", "answered on time"),
    "late": ("逾期", "late"),
    "overdue_open": ("逾期未办", "overdue, still open"),
    "referred": ("已移送", "referred"),
    "acting": ("已处理", "acted on"),
    "explained": ("已说明理由", "explained"),
    "escalated": ("已报县政府", "escalated"),
    "escalated_ever": ("曾报县政府", "ever escalated"),
    "transferred": ("已移送", "transferred"),
    "accepted": ("已立案", "accepted"),
    "declined": ("不予立案", "declined"),
    "concluded": ("已办结", "concluded"),
    "opened": ("新发生", "opened"),
    "resolved": ("已解决", "resolved"),
    "visits": ("监督检查", "visits"),
    "on_site_visits": ("现场监督", "on-site visits"),
    "notices": ("监督通知书", "notices"),
    "notices_overdue": ("通知书逾期", "notices overdue"),
    "decisions_change": ("决定变更", "decisions to change"),
    "decisions_revoke": ("决定撤销", "decisions to revoke"),
    "officers": ("执法人员", "officers"),
    "required_hours": ("应训学时", "required hours"),
    "under_required": ("学时不足", "under the required hours"),
    "records": ("共享记录", "records shared"),
}
# The seed documents, by the short reference used in code, as their readers know them.
SEED_TITLES = {
    "seed 000": (
        "《新绛县跨领域综合执法和协调联动机制(试行)》",
        "Xinjiang County cross-domain enforcement coordination (trial)",
    ),
    "seed 001": (
        "嵊泗县人民政府《嵊泗县“大综合一体化”行政执法改革实施方案》(2021)",
        "Shengsi County reform plan for integrated administrative enforcement (2021)",
    ),
    "seed 002": (
        "《大兴安岭地区贯彻落实〈关于加强行政执法协调监督工作体系的意见〉实施方案》",
        "Daxinganling plan for enforcement oversight (2024)",
    ),
    "seed 004": (
        "《衢州市行政执法协调监督暂行办法》(2022)",
        "Quzhou interim rules on enforcement coordination and supervision (2022)",
    ),
}


def figure_label(key: str) -> str:
    """'中文 English' for a figure's key."""
    zh, en = LABELS.get(key, ("", key.replace("_", " ")))
    return f"{zh} {en}".strip()


def seed_title(reference: str) -> str:
    """'seed 001 §2' -> the document's title, then the part: 《…实施方案》 §2 (the title in English too)."""
    seed, _, part = reference.partition(" §")
    zh, en = SEED_TITLES.get(seed, (seed, ""))
    where = f" §{part}" if part else ""
    return f"{zh}{where} · {en}{where}" if en else f"{zh}{where}"


def calendar_notice() -> str | None:
    """The holiday calendar's warning for the page (zh and en), while its horizon is under 60 days away."""
    status = calendar_status(db.session, local_day())
    if "warning" not in status:
        return None
    if status["horizon"] is None:
        return "未载入节假日安排:工作日仅按周一至周五计算 · " + status["warning"]
    zh = (
        f"节假日安排只载至 {status['horizon']}(还剩 {status['days_left']} 天):请载入国务院办公厅下一年度"
        "部分节假日安排的通知;超出部分的工作日期限为暂定"
    )
    return f"{zh} · {status['warning']}"


def init_app(app: Flask) -> None:
    app.add_template_global(figure_label)
    app.add_template_global(seed_title)
    app.add_template_global(calendar_notice)

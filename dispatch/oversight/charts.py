"""Charts as inline SVG drawn here: printable, no script, no external URL, every label escaped."""

from __future__ import annotations

from markupsafe import Markup, escape

ROW = 24
LABEL = 170
BAR_COLOUR = "#2b6cb0"
OVER_COLOUR = "#c53030"


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def bar_chart(
    title: str,
    rows: list[tuple[str, float | None]],
    *,
    unit: str = "",
    target: float | None = None,
    scale_max: float | None = None,
    width: int = 620,
) -> Markup:
    """Horizontal bars, one per (label, value); a dashed line marks ``target`` when given."""
    plot = width - LABEL - 70
    values = [v for _, v in rows if v is not None]
    top = scale_max or max([*values, target or 0, 1e-9])
    height = 36 + ROW * max(len(rows), 1) + 8
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="13">{escape(title)}</text>',
    ]
    if not rows:
        parts.append('<text x="0" y="46" fill="#555">no data 无数据</text>')
    for index, (label, value) in enumerate(rows):
        y = 32 + index * ROW
        parts.append(f'<text x="{LABEL - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        if value is None:
            parts.append(f'<text x="{LABEL + 4}" y="{y + 15}" fill="#555">–</text>')
            continue
        length = max(1.0, plot * min(value, top) / top)
        colour = OVER_COLOUR if target is not None and unit != "%" and value > target else BAR_COLOUR
        parts.append(f'<rect x="{LABEL}" y="{y + 3}" width="{length:.1f}" height="{ROW - 8}" fill="{colour}"/>')
        parts.append(f'<text x="{LABEL + length + 4:.1f}" y="{y + 15}">{escape(_number(value))}{escape(unit)}</text>')
    if target is not None:
        x = LABEL + plot * min(target, top) / top
        parts.append(
            f'<line x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="{height - 4}" stroke="#222" stroke-dasharray="4 3"/>'
            f'<text x="{x + 3:.1f}" y="29" font-size="10">target {escape(_number(target))}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # every interpolated string is escaped above


def report_charts(report: dict) -> list[Markup]:
    """The charts of the printable annual report."""
    times = report["response_times"]
    charts = [
        bar_chart(
            f"{label} (%)",
            [(label.split()[0], None if v is None else round(v * 100, 1))],
            unit="%",
            target=report["targets"][key] * 100,
            scale_max=100.0,
        )
        for key, label in (
            ("comprehensive_share", "综合执法事项占比 comprehensive share"),
            ("township_force_share", "乡镇执法力量占比 township force share"),
        )
        for v in [report[key]]
    ]
    return charts + [
        bar_chart(
            "Median minutes, dispatch to on scene, by township 派单至到场中位数(分钟)",
            [(row["name"] or "海上 at sea", row["dispatch_to_on_scene"]["median"]) for row in times["by_township"]],
            unit=" min",
        ),
        bar_chart(
            "Median minutes, intake to dispatch, by force 受理至派单中位数(分钟)",
            [(row["name"], row["intake_to_dispatch"]["median"]) for row in times["by_force"]],
            unit=" min",
        ),
        bar_chart(
            "Late or overdue incidents by township 超时事件数",
            [
                (row["name"] or "海上 at sea", row["late"] + row["overdue_open"])
                for row in report["overdue"]["by_township"]
            ],
        ),
    ]

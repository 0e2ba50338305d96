"""Agents timeline card: which agent ran which trial when, and how busy the agents were
(utilisation = busy agent-time / (agents x wall time) between the first start and the last event).

A trial still running is drawn up to the log's last event (the report cannot know more)."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go

from batman_opt.report.cards import COLOURS, Card, RunData, style
from batman_opt.store import TrialRecord

Span = tuple[str, TrialRecord, float, float]  # agent, trial, start, end (epoch s)


def spans(data: RunData) -> list[Span]:
    """The trials that started, with their agent and time span (running ones up to the last event)."""
    started = [t for t in data.trials if t.start_time is not None]
    last = max((t.end_time or t.start_time for t in started), default=0.0)  # type: ignore[type-var]
    return [
        (t.agent or "?", t, float(t.start_time), float(t.end_time if t.end_time is not None else last))  # type: ignore[arg-type]
        for t in started
    ]


def utilisation(data: RunData) -> float:
    """Share of agent time spent on trials between the first start and the last event; nan if unknown."""
    found = spans(data)
    if not found:
        return float("nan")
    agents = {agent for agent, *_ in found}
    wall = max(end for *_, end in found) - min(start for _, _, start, _ in found)
    busy = sum(end - start for *_, start, end in found)
    return busy / (len(agents) * wall) if wall > 0 else float("nan")


def agents_timeline(data: RunData) -> Card:
    """Gantt chart of the trials on their agents."""
    found = spans(data)
    figure = go.Figure()
    for status in ("completed", "failed", "running"):
        group = [s for s in found if s[1].status == status]
        if not group:
            continue
        figure.add_bar(
            y=[agent for agent, *_ in group],
            x=[(end - start) * 1000.0 for *_, start, end in group],  # ms: plotly's date axis unit
            base=[dt.datetime.fromtimestamp(start, dt.UTC).isoformat() for *_, start, _ in group],
            orientation="h",
            name=status,
            marker={
                "color": COLOURS["trial" if status == "completed" else status],
                "line": {"color": "white", "width": 1},
            },
            text=[str(t.trial) for _, t, *_ in group],
            textposition="inside",
            hovertext=[
                f"trial {t.trial} on {agent}: {end - start:.3g} s {t.status}"
                + (f" ({t.reason})" if t.reason else "")
                for agent, t, start, end in group
            ],
            hoverinfo="text",
        )
        figure.add_scatter(  # a tick at each start: ms-long trials of a minute-long campaign stay visible
            y=[agent for agent, *_ in group],
            x=[dt.datetime.fromtimestamp(start, dt.UTC).isoformat() for *_, start, _ in group],
            mode="markers",
            marker={
                "symbol": "line-ns-open",
                "size": 16,
                "color": COLOURS["trial" if status == "completed" else status],
            },
            showlegend=False,
            hoverinfo="skip",
        )
    figure.update_xaxes(type="date", title="time (UTC)")
    figure.update_yaxes(title="agent", categoryorder="category descending")
    figure.update_layout(barmode="overlay")
    agents = len({agent for agent, *_ in found})
    subtitle = (
        f"Each bar is a trial on the agent that ran it (number inside). {agents} agents, busy "
        f"{100 * utilisation(data):.0f} % of the time between the first start and the last event (gaps: "
        "the optimizer choosing the next recipes, or idle agents)."
        if found
        else "No trial has started yet."
    )
    return Card("timeline", "Agents timeline", subtitle, style(figure, max(240, 60 + 40 * agents)))

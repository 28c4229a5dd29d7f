"""The static HTML page of a drive review: summary, video, steering plot, highlight galleries."""
from __future__ import annotations

from dataclasses import dataclass
import html
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table.summary td { padding: 0.15em 1em 0.15em 0; }
.gallery { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 6px; }
.card img { display: block; max-width: 100%; }
.pair { display: flex; gap: 4px; }
.caption { font-size: 0.85em; margin-top: 4px; line-height: 1.35; }
video, img.plot { max-width: 100%; }
"""


@dataclass
class Highlight:
    """One frame worth a look.

    Attributes:
        rank: 1 for the largest change.
        time_s: seconds from the start of the drive.
        stamp_ns: header stamp of the frame (ns).
        steering_rad: steering angle at that frame.
        score: the change that put it here (degrees for steering, as the captions; mean
            |Δmask| in [0, 1]).
        image: thumbnail path relative to the page ('' when the frame was not found).
        before: thumbnail of the frame just before ('' when none).
    """

    rank: int
    time_s: float
    stamp_ns: int
    steering_rad: float
    score: float
    image: str = ''
    before: str = ''


@dataclass
class Section:
    """A gallery: a title, what the score means, and its highlights."""

    title: str
    score_label: str
    items: list[Highlight]


#: Marks the pages this module writes, so that a later review replaces only its own page.
GENERATOR = '<meta name="generator" content="vbp-ros review">'


def write_page(path: Path, *, title: str, summary: dict[str, str], video: str | None,
               plot: str | None, sections: list[Section]) -> Path:
    """Write the review page.

    Args:
        path: the .html file to write.
        title: page heading.
        summary: label -> value rows shown at the top.
        video: relative path of the MP4 (None: no video element).
        plot: relative path of the steering plot image.
        sections: galleries, in order.

    Returns:
        ``path``.
    """
    e = html.escape
    parts = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">', GENERATOR,
             f'<title>{e(title)}</title><style>{STYLE}</style></head><body>',
             f'<h1>{e(title)}</h1>', '<table class="summary">']
    parts += [f'<tr><td>{e(k)}</td><td>{e(v)}</td></tr>' for k, v in summary.items()]
    parts.append('</table>')
    if video:
        parts.append(f'<h2>Video</h2><video controls preload="metadata" src="{e(video)}">'
                     f'<a href="{e(video)}">{e(video)}</a></video>')
    if plot:
        parts.append(f'<h2>Steering over time</h2><img class="plot" src="{e(plot)}" '
                     'alt="steering angle over time">')
    for sec in sections:
        parts.append(f'<h2>{e(sec.title)}</h2>')
        if not sec.items:
            parts.append('<p>Nothing to show.</p>')
            continue
        parts.append('<div class="gallery">')
        for h in sec.items:
            imgs = ''
            if h.before:
                imgs += f'<img src="{e(h.before)}" alt="frame before" title="before">'
            if h.image:
                imgs += f'<img src="{e(h.image)}" alt="frame {h.rank}" title="this frame">'
            deg = h.steering_rad * 57.29577951308232
            parts.append(
                f'<div class="card"><div class="pair">{imgs}</div><div class="caption">'
                f'#{h.rank} at {h.time_s:.2f} s (stamp {h.stamp_ns})<br>'
                f'steering {deg:+.2f}&deg;, {e(sec.score_label)} {h.score:.4g}</div></div>')
        parts.append('</div>')
    parts.append('</body></html>')
    path.write_text('\n'.join(parts) + '\n', encoding='utf-8')
    return path

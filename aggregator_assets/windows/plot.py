"""A picture of an hour of windows for the asset's metadata: mean with the min-max band.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global backend switch), so it is
safe in any worker process.
"""

from __future__ import annotations

import base64
import io

import pyarrow as pa
import pyarrow.compute as pc
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from aggregator_assets.config.window_naming import NAMINGS, WindowNaming
from aggregator_assets.windows.columns import window_bounds

_START = "__window_start"
# Margins in inches. A fixed layout, not matplotlib's constrained one: its solver was half the
# cost of a plot, and a batch run draws one plot per window asset (benchmarks/many_topics).
_WIDTH, _PANEL = 8.0, 2.2
_LEFT, _RIGHT, _TOP, _BOTTOM, _GAP = 0.75, 0.15, 0.12, 0.5, 0.12


def _top_keys(windows: pa.Table, key_field: str, count: str, n: int) -> list[object]:
    valid = windows.filter(pc.is_valid(windows[key_field]))
    totals = valid.group_by(key_field).aggregate([(count, "sum")])
    totals = totals.sort_by([(f"{count}_sum", "descending"), (key_field, "ascending")])
    return totals[key_field].to_pylist()[:n]


def plot_windows_png(
    windows: pa.Table,
    key_field: str,
    fields: list[str],
    max_keys: int = 3,
    max_fields: int = 3,
    naming: WindowNaming = NAMINGS["default"],
) -> bytes | None:
    """PNG of mean (line) and min..max (band) per window for the busiest keys; None if empty.

    Both naming profiles call the statistics `mean_F`, `min_F`, `max_F`; `naming` says where
    the count and the window are.
    """
    fields = [f for f in fields if pc.count(windows[f"mean_{f}"]).as_py()][:max_fields]
    keys = _top_keys(windows, key_field, naming.count, max_keys)
    if not fields or not keys:
        return None
    windows = windows.append_column(_START, window_bounds(windows, naming)[0])
    height = _PANEL * len(fields)
    figure = Figure(figsize=(_WIDTH, height), dpi=72)
    figure.subplots_adjust(
        left=_LEFT / _WIDTH,
        right=1 - _RIGHT / _WIDTH,
        top=1 - _TOP / height,
        bottom=_BOTTOM / height,
        hspace=_GAP * len(fields) / (height - _TOP - _BOTTOM),
    )
    axes = figure.subplots(len(fields), 1, sharex=True, squeeze=False)[:, 0]
    for key in keys:
        rows = windows.filter(pc.equal(windows[key_field], key)).sort_by(_START)
        x = rows[_START].to_pandas()
        for ax, name in zip(axes, fields, strict=True):
            mean = rows[f"mean_{name}"].to_numpy(zero_copy_only=False)
            (line,) = ax.plot(x, mean, label=str(key), linewidth=1.2)
            ax.fill_between(
                x,
                rows[f"min_{name}"].to_numpy(zero_copy_only=False),
                rows[f"max_{name}"].to_numpy(zero_copy_only=False),
                color=line.get_color(),
                alpha=0.2,
                linewidth=0,
            )
            ax.set_ylabel(name)
    axes[0].legend(loc="upper right", fontsize="small", title=key_field)
    axes[-1].set_xlabel("window start (UTC)")
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str = "plot") -> str:
    """Markdown the Dagster UI renders inline (its sanitizer allows data: image sources)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"

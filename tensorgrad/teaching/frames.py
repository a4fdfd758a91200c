"""Backprop step by step, played in the notebook: the graph as it stood after each backward step.

    with tg.trace(keep="all") as tr:
        loss.backward()
    player = play_backprop(loss, tr)     # Jupyter shows it inline: a slider, ◀ ▶ and play
    player.save("backprop.html")         # the same as one page, opened in any browser

Each frame is ``tg.draw(loss, trace=tr, step=k)``: the op whose backward runs at step k in
orange, the ops done in green, and the gradients known by then. The frames are inline SVG and
the slider a few lines of plain JavaScript: no internet, no extension. Every frame is laid out
with the nodes of the last one's sizes, so nothing moves from one step to the next: only colours
and gradients change.
"""
from __future__ import annotations

import html
import json
import math
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..tensor import Tensor
from .draw import draw

__all__ = ["BackpropPlayer", "play_backprop"]

MAX_FRAMES = 200  # each frame is one run of the renderer and one SVG in the page
SECONDS_PER_STEP = 1.0  # when playing


class BackpropPlayer:
    """Frames of backprop with a slider: ``_repr_html_`` for Jupyter, ``save(path)`` for a page.

    Attributes:
        steps: the trace's step shown by each frame (a ``TraceStep``: op, formula, gradient norm).
        svgs: each frame as SVG text.
    """

    def __init__(self, steps: list[Any], svgs: list[str]) -> None:
        self.steps, self.svgs = steps, svgs

    def __len__(self) -> int:
        return len(self.svgs)

    def captions(self) -> list[str]:
        """What each frame's step did: 'step 3 of 5: add (output h) ∂a = g,  ∂b = g'."""
        return [f"step {s.step} of {self.steps[-1].step if self.steps else 0}: {s.op} (output {s.output})   "
                f"{s.formula}" for s in self.steps]

    def to_html(self) -> str:
        """The player as an HTML fragment: buttons, a slider, a caption, one <svg> per frame
        (the first shown), and the script that switches between them."""
        uid = "tensorgrad-backprop-" + uuid.uuid4().hex[:8]
        captions = self.captions()
        hidden = ' style="display:none"'  # every frame but the first, until the script shows it
        frames = "\n".join(f'<div class="frame"{"" if i == 0 else hidden}>{svg}</div>' for i, svg in enumerate(self.svgs))
        script = _SCRIPT.replace("UID", uid).replace("CAPTIONS", json.dumps(captions).replace("</", "<\\/"))
        script = script.replace("MILLISECONDS", str(round(SECONDS_PER_STEP * 1000)))
        return f"""<div id="{uid}" style="font-family: Helvetica, Arial, sans-serif">
<div style="margin: 4px 0">
<button type="button" data-go="-1" title="previous step">&#9664;</button>
<button type="button" data-play title="play">play</button>
<button type="button" data-go="1" title="next step">&#9654;</button>
<input type="range" min="1" max="{len(self.svgs)}" value="1" step="1" style="width: 40%; vertical-align: middle">
<div class="caption" style="margin: 4px 0; font-size: 90%">{html.escape(captions[0] if captions else "")}</div>
</div>
{frames}
</div>
<script>{script}</script>"""

    def _repr_html_(self) -> str:
        return self.to_html()

    def save(self, path: str | Path) -> Path:
        """Write the player as a self-contained HTML page; returns the path."""
        path = Path(path)
        path.write_text("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>backprop, step by step"
                        "</title></head>\n<body>\n" + self.to_html() + "\n</body></html>\n", encoding="utf-8")
        return path


# The player's behaviour: show frame k (1-based), from the slider, the buttons or the timer.
_SCRIPT = """
(function () {
  var root = document.getElementById("UID");
  var frames = root.querySelectorAll(".frame");
  var slider = root.querySelector("input[type=range]");
  var caption = root.querySelector(".caption");
  var play = root.querySelector("[data-play]");
  var captions = CAPTIONS;
  var timer = null;
  function show(k) {
    k = Math.max(1, Math.min(frames.length, k));
    slider.value = k;
    for (var i = 0; i < frames.length; i++) { frames[i].style.display = (i + 1 === k) ? "" : "none"; }
    caption.textContent = captions[k - 1];
  }
  function stop() { if (timer !== null) { clearInterval(timer); timer = null; play.textContent = "play"; } }
  slider.addEventListener("input", function () { stop(); show(Number(slider.value)); });
  root.querySelectorAll("[data-go]").forEach(function (button) {
    button.addEventListener("click", function () { stop(); show(Number(slider.value) + Number(button.dataset.go)); });
  });
  play.addEventListener("click", function () {
    if (timer !== null) { stop(); return; }
    if (Number(slider.value) === frames.length) { show(1); }
    play.textContent = "pause";
    timer = setInterval(function () {
      if (Number(slider.value) >= frames.length) { stop(); } else { show(Number(slider.value) + 1); }
    }, MILLISECONDS);
  });
})();
"""


def _node_sizes(graph: Any) -> dict[str, tuple[float, float]]:
    """Each node's width and height in inches, as the renderer lays the graph out (rounded up)."""
    sizes = {}
    for line in graph.pipe(format="plain", encoding="utf-8").splitlines():
        if line.startswith("node "):
            _, name, _, _, width, height = line.split()[:6]
            sizes[name] = (math.ceil(float(width) * 100) / 100, math.ceil(float(height) * 100) / 100)
    return sizes


def play_backprop(root: Tensor, trace: Any, *, steps: Iterable[int] | None = None,
                  **draw_options: Any) -> BackpropPlayer:
    """The backward pass recorded by ``trace`` as frames with a slider (see the module's docstring).

    Args:
        root: the tensor backward ran from (the loss).
        trace: the ``tg.trace`` record of that backward.
        steps: which steps get a frame (1-based; default all, at most 200).
        draw_options: passed to ``tg.draw`` (``params=model``, ``collapse``, ``rankdir``, ...);
            the legend is on unless ``legend=False``.
    """
    if not trace.steps:
        raise ValueError("play_backprop: the trace has no steps: run loss.backward() inside `with tg.trace() as tr:`")
    chosen = list(range(1, len(trace.steps) + 1) if steps is None else steps)
    if len(chosen) > MAX_FRAMES:
        raise ValueError(f"play_backprop: {len(chosen)} frames is too many for one page (at most {MAX_FRAMES}); "
                         f"choose some with steps=, e.g. steps=range(1, {len(trace.steps) + 1}, "
                         f"{math.ceil(len(chosen) / MAX_FRAMES)})")
    for k in chosen:
        if not 1 <= k <= len(trace.steps):
            raise ValueError(f"play_backprop: steps must be in 1..{len(trace.steps)}, got {k}")
    for forbidden in ("trace", "step"):
        if forbidden in draw_options:
            raise TypeError(f"play_backprop: {forbidden}= is chosen for each frame; pass it no {forbidden}")
    # The layout of the last frame, every gradient known (the widest labels): every frame gets its
    # node sizes and direction, so that the renderer places every node where it is in the others.
    draw_options = {"legend": True, **draw_options}
    final = draw(root, trace=trace, **draw_options)
    draw_options["rankdir"] = final.graph_attr["rankdir"]
    sizes = _node_sizes(final)
    svgs = []
    for k in chosen:
        frame = draw(root, trace=trace, step=k, **draw_options)
        for name, (width, height) in sizes.items():
            frame.node(name, width=str(width), height=str(height))  # a later statement adds to the node
        svg = frame.pipe(format="svg", encoding="utf-8")
        svgs.append(svg[svg.index("<svg"):])  # without the XML prologue: inline in HTML
    return BackpropPlayer([trace.steps[k - 1] for k in chosen], svgs)

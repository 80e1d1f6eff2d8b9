"""ContainerPlayground: a command line into a container, and what each command changed.

Type a command (``echo hi > /happy.txt``) and press Enter: it runs in the container's
simulated shell (:meth:`Container.exec`), and the panels update at once:

* the output and exit status;
* the read-write layer (what is physically in the upper directory, whiteouts included)
  and ``docker diff``;
* the copy-ups the command caused, highlighted (a lower file copied into the read-write
  layer before its first change);
* the lifecycle buttons (start, stop, pause, unpause, rm), the state, and the process
  table: PIDs inside the container next to the same processes' host PIDs;
* for a container of a :class:`~layerlab.store.Store`, the host's view: the files of its
  ``diff`` directory on disk, where ``happy.txt`` stays after ``stop`` and goes with ``rm``.

A container that was never started is started by the first command; a stopped one is
not (a clear message says to press start), as ``docker exec`` refuses to run in it.

>>> from layerlab import Image, Layer
>>> from layerlab.widgets import ContainerPlayground
>>> c = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\\n"})]).create_container()
>>> play = ContainerPlayground(c)
>>> play.run("echo hi > /happy.txt")
ExecResult(exit_code=0, stdout='', stderr='')
>>> play.diff_lines()
['A /happy.txt']
"""

from __future__ import annotations

import html
import os
import stat
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..container import Container, ContainerState
from ..errors import LayerlabError
from ..shell import ExecResult
from ..views.palette import OKABE_ITO, pill_style
from ..whiteout import is_overlay_opaque, is_overlay_whiteout, is_whiteout_device
from ._base import StaticFallback, badge

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["ContainerPlayground"]

#: commands the transcript keeps
MAX_TRANSCRIPT = 30
MAX_HOST_ENTRIES = 300
_FLASH = "background:rgba(240,228,66,0.35);border-left:4px solid #E69F00;padding:2px 6px"


def _store_of(container: Container) -> Store | None:
    """The Store a container belongs to: it listens to the container's events."""
    from ..store import Store

    for listener in container.listeners:
        owner = getattr(listener, "__self__", None)
        if isinstance(owner, Store):
            return owner
    return None


class ContainerPlayground(StaticFallback, W.VBox):  # type: ignore[misc]
    """A command line, the read-write layer, diff, copy-ups, lifecycle and processes."""

    def __init__(self, container: Container, *, store: Store | None = None) -> None:
        self.container = container
        self.store = store if store is not None else _store_of(container)
        self.transcript: list[tuple[str, ExecResult | str]] = []
        self._seen_copy_ups = len(container.copy_ups)
        self.new_copy_ups: list[str] = []
        self.command = W.Text(placeholder="a shell command, then Enter: echo hi > /happy.txt",
                              description="$", continuous_update=False,
                              layout=W.Layout(width="70%"))
        self.run_button = W.Button(description="run", button_style="primary",
                                   layout=W.Layout(width="6em"))
        self.output = W.HTML()
        self.status = W.HTML()
        self.buttons = {name: W.Button(description=name, layout=W.Layout(width="7em"))
                        for name in ("start", "stop", "pause", "unpause", "rm")}
        self.state = W.HTML()
        self.processes = W.HTML()
        self.copy_ups = W.HTML()
        self.rw_layer = W.HTML(layout=W.Layout(width="50%"))
        self.diff = W.HTML(layout=W.Layout(width="50%"))
        self.host = W.HTML()
        self.command.observe(self._on_command, names="value")
        self.run_button.on_click(lambda _: self._submit(self.command.value))
        for name, button in self.buttons.items():
            button.on_click(lambda _, name=name: self.lifecycle(name))
        super().__init__([
            W.HBox([self.command, self.run_button]),
            self.output,
            self.status,
            self.copy_ups,
            W.HBox([self.rw_layer, self.diff]),
            W.HBox(list(self.buttons.values())),
            self.state,
            self.processes,
            self.host,
        ])
        self.add_class("layerlab-playground")
        self.refresh()

    def __repr__(self) -> str:
        return f"<ContainerPlayground: {self.container.name} {self.container.state}>"

    def static_html(self) -> str:
        return self.container._repr_html_()

    # --- actions -------------------------------------------------------------------------
    def run(self, command: str) -> ExecResult | None:
        """Run ``command`` in the container (starting it if it was only created) and
        refresh every panel. ``None`` when the container cannot run it (the message is
        in :attr:`status`)."""
        c = self.container
        result: ExecResult | str
        try:
            if c.state is ContainerState.CREATED:
                c.start()
            if c.state is not ContainerState.RUNNING:
                raise _NotRunning(self._why_not_running())
            result = c.exec(command)
        except (LayerlabError, _NotRunning) as exc:
            result = str(exc)
        self.transcript = [*self.transcript, (command, result)][-MAX_TRANSCRIPT:]
        self.new_copy_ups = [str(e) for e in c.copy_ups[self._seen_copy_ups:]]
        self._seen_copy_ups = len(c.copy_ups)
        self.refresh()
        return result if isinstance(result, ExecResult) else None

    def lifecycle(self, action: str) -> None:
        """Press a lifecycle button: ``start``, ``stop``, ``pause``, ``unpause`` or ``rm``."""
        c = self.container
        try:
            if action == "start":
                c.start()
            elif action in ("stop", "pause", "unpause", "rm"):
                getattr(c, action)()
            else:
                raise ValueError(f"unknown lifecycle action {action!r}")
            self.transcript = [*self.transcript, (f"# docker {action} {c.name}", "")][
                -MAX_TRANSCRIPT:]
        except LayerlabError as exc:
            self.transcript = [*self.transcript, (f"# docker {action} {c.name}", str(exc))][
                -MAX_TRANSCRIPT:]
        self.new_copy_ups = []
        self.refresh()

    def diff_lines(self) -> list[str]:
        """``docker diff`` as the panel shows it (empty once the container is removed)."""
        if self.container.state is ContainerState.REMOVED:
            return []
        return [str(change) for change in self.container.diff()]

    def host_files(self) -> list[str] | None:
        """Paths (relative) in the container's diff directory on the host, or ``None``
        when the container has no store or the directory is gone."""
        if self.store is None or self.container.state is ContainerState.REMOVED:
            return None
        top = self.store.container_dir(self.container)
        if not os.path.isdir(top):
            return None
        out: list[str] = []
        for here, dirs, files in os.walk(top):
            dirs.sort()
            rel = os.path.relpath(here, top)
            for name in sorted([*dirs, *files]):
                out.append(os.path.normpath(os.path.join(rel, name)))
                if len(out) >= MAX_HOST_ENTRIES:
                    return out
        return out

    # --- events --------------------------------------------------------------------------
    def _on_command(self, change: dict[str, Any]) -> None:
        self._submit(change["new"])

    def _submit(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        self.run(text)
        self.command.value = ""  # ready for the next one (the same text again too)

    def _why_not_running(self) -> str:
        c = self.container
        if c.state is ContainerState.EXITED:
            return (f"container {c.name} is stopped (exit status {c.exit_code}): press start "
                    "to run commands; its read-write layer is still there")
        if c.state is ContainerState.PAUSED:
            return f"container {c.name} is paused: press unpause first"
        if c.state is ContainerState.REMOVED:
            return f"container {c.name} was removed: its read-write layer is gone"
        return f"container {c.name} is {c.state}"

    # --- rendering -----------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw every panel from the container's current state."""
        self._render_output()
        self._render_copy_ups()
        self._render_filesystem()
        self._render_lifecycle()
        self._render_host()

    def _render_output(self) -> None:
        lines = []
        error = f"<span style='{pill_style(OKABE_ITO['vermillion'])}'>error</span>"
        for command, result in self.transcript:
            lines.append(f"<b>$ {html.escape(command)}</b>")
            if isinstance(result, ExecResult):
                if result.output:
                    lines.append(html.escape(result.output.rstrip("\n")))
                if result.exit_code:
                    lines.append(f"<span style='{pill_style(OKABE_ITO['vermillion'])}'>exit "
                                 f"status {result.exit_code}</span>")
            elif result:
                lines.append(f"{error} {html.escape(result)}")
        # column-reverse keeps the scroll position at the bottom: the newest output shows
        self.output.value = (
            "<div class='layerlab-transcript' style='max-height:12em;overflow:auto;"
            "display:flex;flex-direction:column-reverse;margin:2px 0;"
            "border:1px solid #5f6b7a80'><pre style='margin:0;padding:4px'>"
            + ("\n".join(lines) or "(no command yet)") + "</pre></div>")
        last = self.transcript[-1][1] if self.transcript else None
        if isinstance(last, ExecResult):
            color = OKABE_ITO["bluish_green"] if last.ok else OKABE_ITO["vermillion"]
            word = "ok" if last.ok else "failed"
            self.status.value = (f"<span style='{pill_style(color)}'>{word}: exit status "
                                 f"{last.exit_code}</span>")
        elif isinstance(last, str) and last:
            self.status.value = f"{error} {html.escape(last)}"
        else:
            self.status.value = ""

    def _render_copy_ups(self) -> None:
        if not self.new_copy_ups:
            self.copy_ups.value = ("<div style='opacity:0.75'>copy-ups of the last command: "
                                   "none</div>")
            return
        items = "".join(f"<li>{html.escape(e)}</li>" for e in self.new_copy_ups)
        self.copy_ups.value = (f"<div style='{_FLASH}'><b>copy-up!</b> the last command "
                               f"copied {len(self.new_copy_ups)} lower path(s) into the "
                               f"read-write layer:<ul style='margin:2px 0'>{items}</ul></div>")

    def _render_filesystem(self) -> None:
        c = self.container
        if c.state is ContainerState.REMOVED:
            self.rw_layer.value = "<b>read-write layer</b><div>gone (container removed)</div>"
            self.diff.value = "<b>docker diff</b><div>gone (container removed)</div>"
            return
        rows = []
        for entry in c.rw.listing():
            if entry.kind.is_marker:
                word = "whiteout" if entry.kind.value == "whiteout" else "opaque dir"
                rows.append(f"<div>{badge('D' if word == 'whiteout' else 'O', word)} "
                            f"<code>{html.escape(entry.path)}</code> ({word})</div>")
            else:
                size = f" {entry.size:,} B" if entry.is_regular else ""
                rows.append(f"<div><code>{html.escape(entry.filemode)} "
                            f"{html.escape(entry.path)}</code>{size}</div>")
        self.rw_layer.value = (f"<b>read-write layer</b> ({len(c.rw)} paths)"
                               + ("".join(rows) or "<div style='opacity:0.75'>empty</div>"))
        words = {"A": "added", "C": "changed", "D": "deleted"}
        lines = [f"<div class='layerlab-diff-line'>{badge(ch.kind, words.get(ch.kind, ''))} "
                 f"<code>{html.escape(str(ch))}</code></div>" for ch in c.diff()]
        self.diff.value = ("<b>docker diff</b>"
                           + ("".join(lines) or "<div style='opacity:0.75'>no changes</div>"))

    def _render_lifecycle(self) -> None:
        c = self.container
        state = c.state
        allowed = {
            ContainerState.CREATED: {"start", "rm"},
            ContainerState.RUNNING: {"stop", "pause"},
            ContainerState.PAUSED: {"unpause", "stop"},
            ContainerState.EXITED: {"start", "rm"},
            ContainerState.REMOVED: set(),
        }[state]
        for name, button in self.buttons.items():
            button.disabled = name not in allowed
        code = f", exit status {c.exit_code}" if c.exit_code is not None else ""
        self.state.value = f"state: <b>{html.escape(str(state))}</b>{code}"
        mine = c.top() if state is not ContainerState.REMOVED else []
        host = [p for p in c.host.container_processes() if p.container == c.name]
        others = len(c.host.container_processes()) - len(host)
        cell = "style='padding:0 10px 0 0;text-align:left'"
        body = "".join(
            f"<tr><td {cell}>{p.pid}</td><td {cell}>{p.host_pid}</td><td {cell}>{p.ppid}</td>"
            f"<td {cell}>{html.escape(p.state)}</td><td {cell}><code>{html.escape(p.command)}"
            f"</code></td></tr>" for p in mine)
        if not mine:
            body = f"<tr><td {cell} colspan='5'>no processes (the container is {state})</td></tr>"
        self.processes.value = (
            f"<table style='border-collapse:collapse'><thead><tr><th {cell}>PID (container)"
            f"</th><th {cell}>PID (host)</th><th {cell}>PPID</th><th {cell}>state</th>"
            f"<th {cell}>command</th></tr></thead><tbody>{body}</tbody></table>"
            f"<div style='opacity:0.75'>the host sees {len(host)} of these as its own "
            f"processes, next to {others} of other containers</div>")

    def _render_host(self) -> None:
        if self.store is None:
            self.host.value = ("<div style='opacity:0.75'>host: this container is not in a "
                               "Store (use store.create_container to see its diff directory)"
                               "</div>")
            return
        files = self.host_files()
        where = html.escape(self.store.layout.container_diff(self.container.id))
        if files is None:
            self.host.value = (f"<b>host: </b><code>{where}</code><div>gone: <code>rm</code> "
                               "removed the read-write layer</div>")
            return
        top = self.store.container_dir(self.container)
        lines = []
        for rel in files:
            full = os.path.join(top, rel)
            st = os.lstat(full)
            if is_whiteout_device(st):
                what = f"c {os.major(st.st_rdev)}/{os.minor(st.st_rdev)} (whiteout)"
            elif stat.S_ISCHR(st.st_mode):
                what = f"c {os.major(st.st_rdev)}/{os.minor(st.st_rdev)} (character device)"
            elif stat.S_ISDIR(st.st_mode):
                what = "dir" + (" (opaque)" if is_overlay_opaque(full) else "")
            elif stat.S_ISLNK(st.st_mode):
                what = f"-> {html.escape(os.readlink(full))}"
            elif is_overlay_whiteout(full):
                what = "(whiteout: empty file with an overlay xattr)"
            else:
                what = f"{st.st_size:,} B"
            lines.append(f"<div><code>{html.escape(rel)}</code> {what}</div>")
        self.host.value = (f"<b>host: the read-write layer on disk</b> <code>{where}</code>"
                           + ("".join(lines) or "<div style='opacity:0.75'>empty</div>"))


class _NotRunning(Exception):
    """The container cannot run a command right now (the message says why)."""

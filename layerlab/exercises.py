"""Exercises for the notebooks: "predict, then check", judged against a snapshot.

The format every notebook follows
=================================

An exercise is three cells and a markdown block, in this order:

1. **The question cell** (code). It sets up what the question is about, then creates the
   question object, which captures *now* the state its answer depends on (a snapshot made
   with the engine), so cells run later cannot change the verdict::

       q1 = ex.CopyUps(container, since=before)

   Its output, if any, must not give the answer away (a question's repr only restates the
   question and the shape of an answer).

2. **The answer cell** (code): exactly ``answer = ...`` on its first line (``...`` is the
   placeholder), then the check as its last line::

       answer = ...  # a list of paths, e.g. ["/etc/motd"]
       q1.check(answer)

   On a fresh top-to-bottom run it shows "Not answered yet", never a verdict. Its metadata
   says how a test judges it::

       "metadata": {"layerlab": {"exercise": {
           "solution": "[\"/etc\", \"/etc/motd\"]",  # a Python expression, judged right
           "wrong": "[\"/etc/motd\"]",               # a tempting wrong answer
           "hint": "parent directories"              # words of the hint it must get
       }}}

3. **The solution** in a markdown cell that follows, collapsed, never executed::

       <details><summary>Solution (open after you have answered)</summary>

       `answer = ["/etc", "/etc/motd"]`: the parent directory is copied up first...
       </details>

Nothing printed above a question may print its answer. The generic test
``tests/test_notebook_exercises.py`` runs every notebook in ``notebooks/`` top to bottom in
one kernel (``LAYERLAB_REAL_MODE=off``), asserts that no output is a verdict other than
"Not answered yet", then in the same kernel replaces ``...`` with ``solution`` (must be
"Correct") and with ``wrong`` (must be "Not quite" with ``hint`` in the hint), so any new
notebook is covered as soon as it has exercises in this form.

Writing a question
==================

Each :class:`Question` subclass takes the objects its answer is about, computes the truth
with the engine in ``__init__`` and keeps only that snapshot; :meth:`Question.check`
judges an answer against it and returns a :class:`Verdict`: ``correct`` plus a message
saying what was right or, for a wrong answer, what differs and a hint that explains the
rule (a tempting wrong answer gets its own hint). For a one-off question use
:class:`Predict` with a value the engine computed and hints for the tempting answers.
The ``check_*`` functions are the same checks in one call (question and answer at once).

>>> from layerlab import Image, Layer, Whiteout
>>> img = Image.from_layers([Layer.from_dict({"/a": "1", "/b": "2"}),
...                          Layer.from_dict({"/a": Whiteout()})])
>>> q = Listdir(img.view(), "/")
>>> q.check(["b"])
Correct: the view shows ['b'] in /.
>>> q.check(["a", "b"]).correct
False
>>> q.check(...)
Not answered yet: replace ... with your prediction and run the cell again.
>>> Predict(len(img.layers), "the number of layers", hints={1: "count both"}).check(1)
Not quite: 1 is not the number of layers.
Hint: count both

The module also has two small readers for ``08-real-images``: :func:`tar_listing` and
:func:`tar_json` show what is inside an image tarball without unpacking it.
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .build import BuildStep
    from .container import Container
    from .image import Image
    from .processes import Host
    from .store import Store
    from .union import View

__all__ = [
    "CacheHits",
    "ChangedChainIds",
    "CopyUps",
    "Diff",
    "HappyTxtHomes",
    "HostProcesses",
    "LayerCount",
    "LayerdbKey",
    "Lifecycle",
    "Listdir",
    "Predict",
    "Provenance",
    "Question",
    "SameIds",
    "SharedLayers",
    "SmallerImage",
    "StopStatus",
    "StoreEntries",
    "Verdict",
    "check_cache_hits",
    "check_changed_chain_ids",
    "check_copy_ups",
    "check_diff",
    "check_host_processes",
    "check_layer_count",
    "check_layerdb_key",
    "check_lifecycle",
    "check_listdir",
    "check_provenance",
    "check_same_ids",
    "check_shared_layers",
    "check_smaller_image",
    "check_store_entries",
    "tar_json",
    "tar_listing",
]

NOT_ANSWERED_TEXT = "Not answered yet"


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: ``correct``, and a message with a hint when it is not."""

    correct: bool
    message: str
    answered: bool = True

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        import html

        from .views.palette import VERDICT_STYLE

        key = "right" if self.correct else ("open" if not self.answered else "wrong")
        color, mark, word = VERDICT_STYLE[key]
        body = html.escape(self.message).replace("\n", "<br>")
        return (f'<div class="layerlab-verdict" style="border-left:4px solid {color};'
                f'padding:4px 8px;margin:2px 0">'
                f'<b style="background:{color};color:#fff;padding:0 6px;border-radius:3px" '
                f'aria-label="{word}">{mark}</b> {body}</div>')


_NOT_ANSWERED = Verdict(
    False, f"{NOT_ANSWERED_TEXT}: replace ... with your prediction and run the cell again.",
    answered=False,
)


def _right(text: str) -> Verdict:
    return Verdict(True, f"Correct: {text}")


def _wrong(what: str, hint: str) -> Verdict:
    return Verdict(False, f"Not quite: {what}\nHint: {hint}")


def _names(values: Iterable[Any]) -> list[str]:
    return sorted(str(v) for v in values)


def _as_list(answer: Any) -> list[Any] | None:
    if isinstance(answer, (str, bytes)) or not isinstance(answer, Iterable):
        return None
    return list(answer)


def _compare_sets(answer: Iterable[Any], truth: Iterable[Any]) -> tuple[list[str], list[str]]:
    """(missing from the answer, extra in the answer), as sorted strings."""
    a, t = {str(x) for x in answer}, {str(x) for x in truth}
    return sorted(t - a), sorted(a - t)


def _set_message(missing: list[str], extra: list[str]) -> str:
    parts = []
    if missing:
        parts.append(f"missing {missing}")
    if extra:
        parts.append(f"not expected {extra}")
    return "; ".join(parts)


class Question:
    """A question asked at one moment. Subclasses capture the truth in ``__init__`` (with
    the engine, from the objects given) and judge an answer in :meth:`_judge`.

    ``prompt`` restates the question and ``example`` the shape of an answer; neither
    gives the answer away, and they are all the repr shows.
    """

    prompt = "your prediction"
    example = "..."

    def check(self, answer: Any) -> Verdict:
        """Judge ``answer`` against the snapshot; ``...`` means not answered yet."""
        if answer is ...:
            return _NOT_ANSWERED
        return self._judge(answer)

    def _judge(self, answer: Any) -> Verdict:  # pragma: no cover - every subclass has one
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"Question: {self.prompt}? Answer in the next cell, like {self.example}, "
                "then run it.")


class Predict(Question):
    """A one-off question: ``truth`` is what the engine computed when it was asked.

    ``hints`` maps tempting wrong answers to the hint that explains the rule; ``hint`` is
    for any other wrong answer; ``why`` is said with a right answer.
    """

    def __init__(self, truth: Any, about: str, *, hints: Mapping[Any, str] | None = None,
                 hint: str = "", why: str = "", example: str = "...") -> None:
        self._truth = truth
        self.prompt = about
        self.example = example
        self._hints = dict(hints or {})
        self._hint = hint
        self._why = why

    def _judge(self, answer: Any) -> Verdict:
        if answer == self._truth:
            return _right(f"{self._truth!r} is {self.prompt}" + (f": {self._why}" if self._why
                                                                  else "."))
        try:
            hint = self._hints.get(answer, self._hint)
        except TypeError:  # an unhashable answer
            hint = self._hint
        return _wrong(f"{answer!r} is not {self.prompt}.", hint or "look again.")


# --- 01: layers and ids -------------------------------------------------------------------


class ChangedChainIds(Question):
    """Which layer indices have a different chain_id in ``after`` than in ``before``?"""

    prompt = "which layer indices have a different chain_id"
    example = "[0, 2]"

    def __init__(self, before: Image, after: Image) -> None:
        pairs = list(zip(before.chain_ids, after.chain_ids, strict=True))
        self._truth = [i for i, (a, b) in enumerate(pairs) if a != b]
        self._changed_diff = [i for i, (a, b) in enumerate(zip(before.diff_ids, after.diff_ids,
                                                                strict=True)) if a != b]

    def _judge(self, answer: Any) -> Verdict:
        given = _as_list(answer)
        if given is None:
            return _wrong(f"{answer!r} is not a list of layer indices", "answer like [0, 2].")
        truth = self._truth
        if sorted(set(given)) == truth:
            return _right(f"chain_ids {truth} changed: a chain id covers its layer and every "
                          "layer below it.")
        if sorted(set(given)) == self._changed_diff:
            return _wrong("those are the layers whose diff_id changed.",
                          "a chain_id is sha256(chain_id below + ' ' + diff_id): a change at "
                          "one layer reaches every chain_id above it.")
        missing, extra = _compare_sets(given, truth)
        return _wrong(_set_message(missing, extra),
                      "compare before.diff_ids with after.diff_ids first, then remember that "
                      "each chain_id includes the chain_id below it.")


_ID_KINDS = ("diff_id", "legacy_id", "image_id")
_ID_HINTS = {
    "diff_id": "a diff_id is the sha256 of the layer's tar stream: only file names, "
               "contents and metadata go in, not the command that made it.",
    "legacy_id": "a legacy v1 id digests the layer's json (which records created_by) "
                 "together with its chain_id and parent.",
    "image_id": "the image id is the sha256 of the config JSON, and the config's "
                "history records created_by.",
}


class SameIds(Question):
    """For layer ``layer`` of two images: which ids are the same? An answer maps
    ``"diff_id"``, ``"legacy_id"`` and ``"image_id"`` to True (same) or False."""

    prompt = "which ids of the top layer stay the same"
    example = '{"diff_id": True, "legacy_id": True, "image_id": True}'

    def __init__(self, a: Image, b: Image, *, layer: int = -1) -> None:
        self._truth = {
            "diff_id": a.diff_ids[layer] == b.diff_ids[layer],
            "legacy_id": a.legacy_layers[layer].id == b.legacy_layers[layer].id,
            "image_id": a.id == b.id,
        }

    def _judge(self, answer: Any) -> Verdict:
        if not isinstance(answer, Mapping) or set(answer) != set(_ID_KINDS):
            return _wrong(f"{answer!r} is not a dict with the keys {list(_ID_KINDS)}",
                          'answer like {"diff_id": True, "legacy_id": False, '
                          '"image_id": False}.')
        truth = self._truth
        wrong = [k for k in _ID_KINDS if bool(answer[k]) != truth[k]]
        if not wrong:
            return _right(", ".join(f"{k} {'same' if truth[k] else 'different'}"
                                    for k in _ID_KINDS) + ".")
        return _wrong(f"check {wrong}.", " ".join(_ID_HINTS[k] for k in wrong))


class LayerCount(Question):
    """How many layers does ``image`` have (``len(image.layers)``)?"""

    prompt = "how many layers the image has"
    example = "3"

    def __init__(self, image: Image) -> None:
        self._truth = len(image.layers)
        self._steps = len(image.history)

    def _judge(self, answer: Any) -> Verdict:
        truth, steps = self._truth, self._steps
        if answer == truth:
            return _right(f"{truth} layers; {steps - truth} history entries made no layer.")
        if answer == steps and steps != truth:
            return _wrong(f"{answer} is the number of history entries.",
                          "ENV, CMD, LABEL, EXPOSE... only change the config: their history "
                          "entries say empty_layer and add no layer.")
        return _wrong(f"{answer!r} is not the number of layers.",
                      "count the steps that change files (FROM's layers, RUN, COPY, ADD, "
                      "and WORKDIR when it creates a directory); metadata steps make no "
                      "layer.")


# --- 02: the union view -------------------------------------------------------------------


class Listdir(Question):
    """What does ``view.listdir(path)`` show (a list of names, any order)?"""

    example = '["a.conf", "b.conf"]'

    def __init__(self, view: View, path: str) -> None:
        self.prompt = f"what view.listdir({path!r}) shows"
        self._path = path
        self._truth = view.listdir(path)
        # why each name some layer had there is hidden now, for the hint of a wrong answer
        self._hidden: dict[str, str] = {}
        names: set[str] = set()
        for layer in view.layers:
            for p in [*(e.path for e in layer.entries), *layer.whiteouts]:
                parent, _, name = p.rpartition("/")
                if (parent or "/") == (path.rstrip("/") or "/") and name:
                    names.add(name)
        for name in sorted(names - set(self._truth)):
            hidden = view.shadowed(path.rstrip("/") + "/" + name)
            if hidden:
                h = hidden[-1]
                self._hidden[name] = f"{name}: {h.reason} by layer {h.hidden_by} ({h.by_path})"

    def _judge(self, answer: Any) -> Verdict:
        given = _as_list(answer)
        if given is None:
            return _wrong(f"{answer!r} is not a list of names",
                          'answer like ["a.conf", "b.conf"].')
        truth = self._truth
        if sorted(str(g) for g in given) == truth:
            return _right(f"the view shows {truth} in {self._path}.")
        missing, extra = _compare_sets(given, truth)
        reasons = [self._hidden[name] for name in extra if name in self._hidden]
        hint = ("whiteouts delete a name from the layers below; an opaque directory hides "
                "every lower child but keeps its own layer's children.")
        if reasons:
            hint += " Look at view.shadowed(...): " + "; ".join(reasons) + "."
        return _wrong(_set_message(missing, extra), hint)


class Provenance(Question):
    """Which layer index supplies ``path`` in ``view``?"""

    example = "2"

    def __init__(self, view: View, path: str) -> None:
        self.prompt = f"which layer supplies {path}"
        self._path = path
        self._truth = view.provenance(path)
        self._hidden = [s.layer for s in view.shadowed(path)]

    def _judge(self, answer: Any) -> Verdict:
        path = self._path
        if answer == self._truth:
            return _right(f"layer {self._truth} supplies {path}.")
        if answer in self._hidden:
            return _wrong(f"layer {answer} has a version of {path}, but it is hidden.",
                          "the topmost layer that has the path wins; lower versions are kept "
                          "but shadowed.")
        return _wrong(f"layer {answer!r} does not supply {path}.",
                      "look for the highest layer whose changes mention the path "
                      "(layers_table / changes_table), or use the explorer.")


# --- 03: containers -----------------------------------------------------------------------


class CopyUps(Question):
    """Which paths were copied up (``container.copy_ups[since:]`` now), any order?"""

    prompt = "which paths were copied up"
    example = '["/etc/motd"]'

    def __init__(self, container: Container, *, since: int = 0) -> None:
        self._truth = [c.path for c in container.copy_ups[since:]]

    def _judge(self, answer: Any) -> Verdict:
        given = _as_list(answer)
        if given is None:
            return _wrong(f"{answer!r} is not a list of paths",
                          'answer like ["/etc", "/etc/motd"].')
        missing, extra = _compare_sets(given, self._truth)
        if not missing and not extra:
            return _right(f"copied up: {_names(self._truth)}.")
        hint = ("before the first change to a lower file overlayfs copies the whole file up, "
                "and its parent directories first; new files and paths already in the "
                "read-write layer are not copied.")
        return _wrong(_set_message(missing, extra), hint)


class Diff(Question):
    """What does ``docker diff`` print now: a list of ``"A /path"``, ``"C /path"``,
    ``"D /path"``?"""

    prompt = "what docker diff prints"
    example = '["A /app/notes.txt"]'

    def __init__(self, container: Container) -> None:
        self._truth = [str(c) for c in container.diff()]

    def _judge(self, answer: Any) -> Verdict:
        given = _as_list(answer)
        if given is None:
            return _wrong(f"{answer!r} is not a list", 'answer like ["C /etc", "A /etc/new"].')
        missing, extra = _compare_sets([" ".join(str(g).split()) for g in given], self._truth)
        if not missing and not extra:
            return _right(f"{self._truth}.")
        return _wrong(_set_message(missing, extra),
                      "every path in the read-write layer is listed: C if the image had it "
                      "(parent directories of a change count), A if new, D for a whiteout.")


class Lifecycle(Question):
    """Does ``path`` (in the read-write layer) stay after ``stop`` and after ``rm``? An
    answer maps ``"stop"`` and ``"rm"`` to True (stays) or False (gone).

    The engine answers it: a twin of ``container`` (same image, a copy of its read-write
    layer, a host of its own) is started, stopped and removed when the question is asked,
    and the question records whether ``path`` was still in its read-write layer.
    """

    prompt = "is the file still on the host after stop, and after rm"
    example = '{"stop": False, "rm": False}'

    def __init__(self, container: Container, path: str = "/happy.txt") -> None:
        from .container import Container as _Container
        from .container import ReadWriteLayer
        from .processes import Host

        twin = _Container(container.image, name=f"{container.name}-twin", host=Host(),
                          init=container.init)
        twin.rw = ReadWriteLayer.from_layer(container.rw.to_layer())
        self._path = path
        if path not in twin.rw.paths():
            raise ValueError(f"container {container.name}: {path} is not in its read-write "
                             "layer, so the question has no answer")
        twin.start()
        twin.stop()
        after_stop = path in twin.rw.paths()
        twin.rm()
        after_rm = path in twin.rw.paths()
        self._truth = {"stop": after_stop, "rm": after_rm}

    def _judge(self, answer: Any) -> Verdict:
        if not isinstance(answer, Mapping) or set(answer) != {"stop", "rm"}:
            return _wrong(f"{answer!r} is not a dict with the keys 'stop' and 'rm'",
                          'answer like {"stop": True, "rm": True}.')
        truth = self._truth
        if bool(answer["stop"]) == truth["stop"] and bool(answer["rm"]) == truth["rm"]:
            return _right("stop ends the processes but keeps the read-write layer; rm "
                          "deletes it.")
        if bool(answer["stop"]) != truth["stop"]:
            return _wrong("a stopped container still has its read-write layer.",
                          "a container is image + read-write layer, running or not: stopping "
                          f"only ends the processes, so {self._path} stays on the host.")
        return _wrong("rm removes the container together with its read-write layer.",
                      "only commit keeps the changes (as a new image layer); rm deletes the "
                      "container's directory on the host.")


# --- 04: processes --------------------------------------------------------------------------


class HostProcesses(Question):
    """``(PIDs the container sees, how many of the host's processes belong to containers)``,
    captured now."""

    prompt = "which PIDs the container sees, and how many host processes belong to containers"
    example = "([1], 1)"

    def __init__(self, host: Host, container: Container) -> None:
        self._pids = [p.pid for p in container.top()]
        self._count = len(host.container_processes())
        self._all = len(host.processes())

    def _judge(self, answer: Any) -> Verdict:
        if (not isinstance(answer, Sequence) or isinstance(answer, str) or len(answer) != 2
                or _as_list(answer[0]) is None):
            return _wrong(f"{answer!r} is not a pair", "answer like ([1, 2], 3).")
        pids, count = self._pids, self._count
        ok_pids = sorted(answer[0]) == pids
        ok_count = answer[1] == count
        if ok_pids and ok_count:
            return _right(f"the container sees PIDs {pids}; {count} of the host's processes "
                          f"belong to containers (the host runs {self._all} in all).")
        hints = []
        if not ok_pids:
            hints.append("each container numbers its own processes from PID 1 and sees only "
                         "those.")
        if not ok_count:
            hints.append("the host sees every running container's processes, each under a "
                         "host PID of its own; stopped containers have none.")
        what = []
        if not ok_pids:
            what.append(f"container PIDs {sorted(answer[0])!r}")
        if not ok_count:
            what.append(f"container processes on the host {answer[1]!r}")
        return _wrong(" and ".join(what) + " do not match.", " ".join(hints))


class StopStatus(Question):
    """The exit status ``docker stop`` gives ``container`` (its image's PID 1), found by
    stopping a twin with its own host when the question is asked."""

    prompt = "the exit status docker stop gives"
    example = "143"

    def __init__(self, container: Container) -> None:
        from .container import Container as _Container
        from .processes import Host

        twin = _Container(container.image, name=f"{container.name}-twin", host=Host(),
                          init=container.init)
        twin.start()
        twin.stop()
        self._truth = twin.exit_code
        self._handles = twin.handles_sigterm

    def _judge(self, answer: Any) -> Verdict:
        if answer == self._truth:
            why = ("PID 1 handles SIGTERM and exits: 128 + 15." if self._handles else
                   "PID 1 has no SIGTERM handler, and the kernel does not apply the default "
                   "action to PID 1 of a namespace: SIGTERM is ignored, and after the grace "
                   "period Docker sends SIGKILL: 128 + 9.")
            return _right(f"{self._truth}: {why}")
        if answer == 143 and not self._handles:
            return _wrong("143 would be a process that died of SIGTERM.",
                          "PID 1 of a PID namespace ignores a signal it has no handler for, "
                          "so SIGTERM does nothing; Docker waits the grace period (10 s) and "
                          "sends SIGKILL: 128 + 9 = 137.")
        if answer == 137 and self._handles:
            return _wrong("137 is the SIGKILL after the grace period.",
                          "this PID 1 has a SIGTERM handler, so it exits at once on SIGTERM: "
                          "128 + 15 = 143.")
        return _wrong(f"{answer!r} is not the exit status.",
                      "a process ended by signal N exits with 128 + N: SIGTERM is 15, SIGKILL "
                      "is 9.")


# --- 05: builds -----------------------------------------------------------------------------


class CacheHits(Question):
    """Which step numbers (``step.index``) were cache hits?"""

    prompt = "which steps hit the cache"
    example = "[2]"

    def __init__(self, steps: Sequence[BuildStep]) -> None:
        self._truth = [s.index for s in steps if s.cache == "hit"]
        firsts = [s for s in steps if s.cache == "miss"]
        self._first_miss = (firsts[0].index, firsts[0].why) if firsts else None

    def _judge(self, answer: Any) -> Verdict:
        given = _as_list(answer)
        if given is None:
            return _wrong(f"{answer!r} is not a list of step numbers", "answer like [2, 3].")
        truth = self._truth
        if sorted(set(given)) == truth:
            return _right(f"steps {truth} came from the cache.")
        missing, extra = _compare_sets(given, truth)
        hint = ("a step hits when its parent image, its instruction and (for COPY/ADD) the "
                "checksums of its files match; after the first miss every later step has a "
                "new parent, so it misses too.")
        if self._first_miss:
            hint += f" The first miss is step {self._first_miss[0]}: {self._first_miss[1]}."
        return _wrong(_set_message(missing, extra), hint)


# --- 06: sizes and sharing --------------------------------------------------------------------


def _image_bytes(image: Image) -> int:
    return sum(layer.size for layer in image.layers)


class SmallerImage(Question):
    """Which of the named images stores the fewest bytes (sum of its layers' sizes)?"""

    example = '"name"'

    def __init__(self, images: Mapping[str, Image]) -> None:
        self._sizes = {name: _image_bytes(img) for name, img in images.items()}
        self.prompt = f"which of {sorted(self._sizes)} stores the fewest bytes"

    def _judge(self, answer: Any) -> Verdict:
        sizes = self._sizes
        truth = min(sorted(sizes), key=lambda n: sizes[n])
        listing = ", ".join(f"{n}: {sizes[n]:,} bytes" for n in sorted(sizes))
        if answer == truth:
            return _right(f"{truth} ({listing}).")
        if answer not in sizes:
            return _wrong(f"{answer!r} is not one of {sorted(sizes)}",
                          "answer with an image name.")
        return _wrong(f"{answer} is not the smallest ({listing}).",
                      "a file deleted in a later layer is only hidden: its bytes stay in the "
                      "layer that added it. Cleanup must happen in the same RUN.")


class SharedLayers(Question):
    """How many distinct layers (by chain_id) are used by more than one of ``images``?"""

    prompt = "how many distinct layers are used by more than one image"
    example = "1"

    def __init__(self, images: Mapping[str, Image]) -> None:
        from .analysis import sharing_rows

        rows = sharing_rows(images)
        self._truth = sum(1 for r in rows if r.shared)
        self._total = len(rows)

    def _judge(self, answer: Any) -> Verdict:
        truth = self._truth
        if answer == truth:
            return _right(f"{truth} shared layers, {self._total - truth} used by one image "
                          "only.")
        return _wrong(f"{answer!r} shared layers; there are {self._total} distinct layers in "
                      "all.",
                      "layers are shared by chain_id: the same base and the same steps in the "
                      "same order give the same layers; after the first different step "
                      "nothing above it is shared, even if it is the same command.")


# --- 07: the store ---------------------------------------------------------------------------


class StoreEntries(Question):
    """How many entries are in the directory ``relpath`` under the store's root now?"""

    example = "3"

    def __init__(self, store: Store, relpath: str) -> None:
        self.prompt = f"how many entries {relpath}/ holds"
        self._relpath = relpath
        self._names = sorted(n for n in os.listdir(os.path.join(store.root, relpath))
                             if not n.startswith("."))

    def _judge(self, answer: Any) -> Verdict:
        n = len(self._names)
        if answer == n:
            return _right(f"{n} entries in {self._relpath}/.")
        return _wrong(f"{self._relpath}/ has {n} entries, not {answer!r}.",
                      "a layer is stored once however many images use it, and every "
                      "container adds its own read-write layer next to the image layers.")


class LayerdbKey(Question):
    """Which id names the directories of ``image/<driver>/layerdb/sha256/``: ``"diff_id"``,
    ``"chain_id"``, ``"legacy_id"`` or ``"image_id"``? Found by comparing the directory
    names on disk with each kind of id of ``image``."""

    prompt = "which id names the layerdb directories"
    example = '"diff_id"'

    def __init__(self, store: Store, image: Image) -> None:
        root = os.path.join(store.root, "image", store.driver, "layerdb", "sha256")
        present = set(os.listdir(root))
        candidates = {
            "diff_id": [d.split(":", 1)[1] for d in image.diff_ids],
            "chain_id": [c.split(":", 1)[1] for c in image.chain_ids],
            "legacy_id": [legacy.id for legacy in image.legacy_layers],
            "image_id": [image.id.split(":", 1)[1]],
        }
        self._kinds = sorted(candidates)
        # the kinds whose ids all name directories, minus those that also match other ids
        matching = [k for k, ids in candidates.items() if all(i in present for i in ids)]
        self._truth = matching[0] if len(matching) == 1 else None
        self._matching = matching

    def _judge(self, answer: Any) -> Verdict:
        if answer not in self._kinds:
            return _wrong(f"{answer!r} is not one of {self._kinds}", 'answer like "diff_id".')
        if answer == self._truth:
            return _right(f"layerdb is keyed by {answer}: a layer together with everything "
                          "below it.")
        return _wrong(f"the layerdb directories are not named by {answer}.",
                      "the same diff_id on top of a different parent is a different layer on "
                      "disk, so the key must cover the layers below too; the parent pointer "
                      "is then a file inside the record.")


# --- the same checks in one call ---------------------------------------------------------------


class HappyTxtHomes(Question):
    """Where does a file written in the container (``happy.txt``) live in each store? An
    answer maps each driver to a path relative to the store root, written out or as a
    pattern where ``<...>`` stands for one id (``"overlay2/<mount-id>/diff"``). The truth
    is captured when the question is asked."""

    prompt = "which directory holds happy.txt in each layout"

    def __init__(self, stores: Sequence[Store], container: str) -> None:
        from .store.where import generic, happy_txt_home, places

        self._truth = {s.driver: happy_txt_home(s, s.container(container)) for s in stores}
        self._generic = {s.driver: generic(s, self._truth[s.driver]) for s in stores}
        self._others = {s.driver: [p.path for p in places(s, s.container(container).image,
                                                          s.container(container))]
                        for s in stores}
        self.example = "{" + ", ".join(f'"{d}": "..."' for d in self._truth) + "}"

    def _judge(self, answer: Any) -> Verdict:
        from .store.where import matches

        if not isinstance(answer, Mapping) or set(answer) != set(self._truth):
            return Verdict(False, f"Not quite: {answer!r} is not a dict with the keys "
                                  f"{sorted(self._truth)}\nHint: answer like {self.example}.")
        wrong = sorted(d for d, path in answer.items()
                       if not isinstance(path, str) or not matches(path, self._truth[d]))
        if not wrong:
            return Verdict(True, "Correct: " + "; ".join(
                f"{d}: {self._generic[d]}" for d in self._truth) + ". Every layout keeps the "
                "container's changes as plain files in one upper directory.")
        hints = []
        for d in wrong:
            given = str(answer[d])
            if "content" in given or "blobs" in given:
                hints.append(f"{d}: the content store holds blobs as pulled or committed; a "
                             "running container's files are in its active snapshot's fs.")
            elif given.rstrip("/").endswith(("merged", "rootfs")):
                hints.append(f"{d}: that is only where the union is mounted; writes go to the "
                             "upper directory.")
            elif "init" in given:
                hints.append(f"{d}: the -init layer is read-only below the container's own "
                             "layer.")
            elif any(matches(given, p) for p in self._others[d]):
                hints.append(f"{d}: that directory holds part of the image (or its records).")
            else:
                hints.append(f"{d}: write the path from the store root, like the trees above "
                             "print it; <...> may stand for an id.")
        return Verdict(False, f"Not quite: check {wrong}.\nHint: " + " ".join(hints))


def check_changed_chain_ids(answer: Any, before: Image, after: Image) -> Verdict:
    """:class:`ChangedChainIds` asked and answered at once."""
    return ChangedChainIds(before, after).check(answer)


def check_same_ids(answer: Any, a: Image, b: Image, *, layer: int = -1) -> Verdict:
    """:class:`SameIds` asked and answered at once."""
    return SameIds(a, b, layer=layer).check(answer)


def check_layer_count(answer: Any, image: Image) -> Verdict:
    """:class:`LayerCount` asked and answered at once."""
    return LayerCount(image).check(answer)


def check_listdir(answer: Any, view: View, path: str) -> Verdict:
    """:class:`Listdir` asked and answered at once."""
    return Listdir(view, path).check(answer)


def check_provenance(answer: Any, view: View, path: str) -> Verdict:
    """:class:`Provenance` asked and answered at once."""
    return Provenance(view, path).check(answer)


def check_copy_ups(answer: Any, container: Container, *, since: int = 0) -> Verdict:
    """:class:`CopyUps` asked and answered at once."""
    return CopyUps(container, since=since).check(answer)


def check_diff(answer: Any, container: Container) -> Verdict:
    """:class:`Diff` asked and answered at once."""
    return Diff(container).check(answer)


def check_lifecycle(answer: Any, container: Container, path: str = "/happy.txt") -> Verdict:
    """:class:`Lifecycle` asked and answered at once."""
    return Lifecycle(container, path).check(answer)


def check_host_processes(answer: Any, host: Host, container: Container) -> Verdict:
    """:class:`HostProcesses` asked and answered at once."""
    return HostProcesses(host, container).check(answer)


def check_cache_hits(answer: Any, steps: Sequence[BuildStep]) -> Verdict:
    """:class:`CacheHits` asked and answered at once."""
    return CacheHits(steps).check(answer)


def check_smaller_image(answer: Any, images: Mapping[str, Image]) -> Verdict:
    """:class:`SmallerImage` asked and answered at once."""
    return SmallerImage(images).check(answer)


def check_shared_layers(answer: Any, images: Mapping[str, Image]) -> Verdict:
    """:class:`SharedLayers` asked and answered at once."""
    return SharedLayers(images).check(answer)


def check_store_entries(answer: Any, store: Store, relpath: str) -> Verdict:
    """:class:`StoreEntries` asked and answered at once."""
    return StoreEntries(store, relpath).check(answer)


def check_layerdb_key(answer: Any, store: Store, image: Image) -> Verdict:
    """:class:`LayerdbKey` asked and answered at once."""
    return LayerdbKey(store, image).check(answer)


# --- reading image tarballs (08) ----------------------------------------------------------------


def tar_listing(path: str | os.PathLike[str]) -> list[str]:
    """The member names of a tar file, sorted, each with ``/`` for a directory and
    ``-> target`` for a symlink: ``tar tf`` without unpacking anything."""
    out = []
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("./")
            if member.isdir():
                name += "/"
            elif member.issym():
                name += f" -> {member.linkname}"
            out.append(name)
    return sorted(out)


def tar_json(path: str | os.PathLike[str], member: str) -> Any:
    """The JSON document stored as ``member`` in a tar file (a symlink is followed once)."""
    with tarfile.open(path) as tar:
        info = tar.getmember(member)
        if info.issym():
            base = os.path.dirname(member)
            info = tar.getmember(os.path.normpath(os.path.join(base, info.linkname)))
        f = tar.extractfile(info)
        if f is None:
            raise ValueError(f"{member}: not a regular file in {os.fspath(path)!r}")
        with f:
            return json.loads(f.read())

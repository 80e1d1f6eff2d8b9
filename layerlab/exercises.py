"""Check functions for the notebooks' "predict, then check" exercises.

Each ``check_*`` function takes the learner's answer first, then the objects the answer is
about, works out the right answer from those objects with the engine, and returns a
:class:`Verdict`: ``correct`` plus a message that says what was right or, for a wrong
answer, what differs and a hint. A notebook shows the verdict as the cell's output.

``...`` (Ellipsis) is the placeholder a notebook ships with: the verdict then says that
no answer was given yet, so a notebook run top to bottom stays deterministic.

>>> from layerlab import Image, Layer, Whiteout
>>> img = Image.from_layers([Layer.from_dict({"/a": "1", "/b": "2"}),
...                          Layer.from_dict({"/a": Whiteout()})])
>>> check_listdir(["b"], img.view(), "/")
Correct: the view shows ['b'] in /.
>>> check_listdir(["a", "b"], img.view(), "/").correct
False
>>> check_listdir(..., img.view(), "/")
Not answered yet: replace ... with your prediction and run the cell again.

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

        color = "#009E73" if self.correct else ("#5f6b7a" if not self.answered else "#D55E00")
        mark = "✔" if self.correct else ("✎" if not self.answered else "✘")
        body = html.escape(self.message).replace("\n", "<br>")
        return (f'<div style="border-left:4px solid {color};padding:4px 8px;margin:2px 0">'
                f'<b style="color:{color}">{mark}</b> {body}</div>')


_NOT_ANSWERED = Verdict(
    False, "Not answered yet: replace ... with your prediction and run the cell again.",
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


# --- 01: layers and ids -------------------------------------------------------------------


def check_changed_chain_ids(answer: Any, before: Image, after: Image) -> Verdict:
    """Which layer indices have a different chain_id in ``after`` than in ``before``?"""
    if answer is ...:
        return _NOT_ANSWERED
    given = _as_list(answer)
    if given is None:
        return _wrong(f"{answer!r} is not a list of layer indices", "answer like [0, 2].")
    truth = [i for i, (a, b) in enumerate(zip(before.chain_ids, after.chain_ids, strict=True))
             if a != b]
    changed_diff = [i for i, (a, b) in enumerate(zip(before.diff_ids, after.diff_ids,
                                                      strict=True)) if a != b]
    if sorted(set(given)) == truth:
        return _right(f"chain_ids {truth} changed: a chain id covers its layer and every "
                      "layer below it.")
    if sorted(set(given)) == changed_diff:
        return _wrong("those are the layers whose diff_id changed.",
                      "a chain_id is sha256(chain_id below + ' ' + diff_id): a change at "
                      "one layer reaches every chain_id above it.")
    missing, extra = _compare_sets(given, truth)
    return _wrong(_set_message(missing, extra),
                  "compare before.diff_ids with after.diff_ids first, then remember that each "
                  "chain_id includes the chain_id below it.")


_ID_KINDS = ("diff_id", "legacy_id", "image_id")


def check_same_ids(answer: Any, a: Image, b: Image, *, layer: int = -1) -> Verdict:
    """For layer ``layer`` of two images: which ids are the same? ``answer`` maps
    ``"diff_id"``, ``"legacy_id"`` and ``"image_id"`` to True (same) or False."""
    if answer is ...:
        return _NOT_ANSWERED
    if not isinstance(answer, Mapping) or set(answer) != set(_ID_KINDS):
        return _wrong(f"{answer!r} is not a dict with the keys {list(_ID_KINDS)}",
                      'answer like {"diff_id": True, "legacy_id": False, "image_id": False}.')
    truth = {
        "diff_id": a.diff_ids[layer] == b.diff_ids[layer],
        "legacy_id": a.legacy_layers[layer].id == b.legacy_layers[layer].id,
        "image_id": a.id == b.id,
    }
    wrong = [k for k in _ID_KINDS if bool(answer[k]) != truth[k]]
    if not wrong:
        return _right(", ".join(f"{k} {'same' if truth[k] else 'different'}"
                                for k in _ID_KINDS) + ".")
    hints = {
        "diff_id": "a diff_id is the sha256 of the layer's tar stream: only file names, "
                   "contents and metadata go in, not the command that made it.",
        "legacy_id": "a legacy v1 id digests the layer's json (which records created_by) "
                     "together with its chain_id and parent.",
        "image_id": "the image id is the sha256 of the config JSON, and the config's "
                    "history records created_by.",
    }
    return _wrong(f"check {wrong}.", " ".join(hints[k] for k in wrong))


def check_layer_count(answer: Any, image: Image) -> Verdict:
    """How many layers does ``image`` have (``len(image.layers)``)?"""
    if answer is ...:
        return _NOT_ANSWERED
    truth = len(image.layers)
    if answer == truth:
        return _right(f"{truth} layers; {len(image.history) - truth} history entries made "
                      "no layer.")
    steps = len(image.history)
    if answer == steps and steps != truth:
        return _wrong(f"{answer} is the number of history entries.",
                      "ENV, CMD, LABEL, EXPOSE... only change the config: their history "
                      "entries say empty_layer and add no layer.")
    return _wrong(f"{answer!r} is not the number of layers.",
                  "count the steps that change files (FROM's layers, RUN, COPY, ADD, and "
                  "WORKDIR when it creates a directory); metadata steps make no layer.")


# --- 02: the union view -------------------------------------------------------------------


def check_listdir(answer: Any, view: View, path: str) -> Verdict:
    """What does ``view.listdir(path)`` show (a list of names, any order)?"""
    if answer is ...:
        return _NOT_ANSWERED
    given = _as_list(answer)
    if given is None:
        return _wrong(f"{answer!r} is not a list of names", 'answer like ["a.conf", "b.conf"].')
    truth = view.listdir(path)
    if sorted(str(g) for g in given) == truth:
        return _right(f"the view shows {truth} in {path}.")
    missing, extra = _compare_sets(given, truth)
    reasons = []
    for name in extra:
        child = path.rstrip("/") + "/" + name
        hidden = view.shadowed(child)
        if hidden:
            h = hidden[-1]
            reasons.append(f"{name}: {h.reason} by layer {h.hidden_by} ({h.by_path})")
    hint = ("whiteouts delete a name from the layers below; an opaque directory hides "
            "every lower child but keeps its own layer's children.")
    if reasons:
        hint += " Look at view.shadowed(...): " + "; ".join(reasons) + "."
    return _wrong(_set_message(missing, extra), hint)


def check_provenance(answer: Any, view: View, path: str) -> Verdict:
    """Which layer index supplies ``path`` in ``view``?"""
    if answer is ...:
        return _NOT_ANSWERED
    truth = view.provenance(path)
    if answer == truth:
        return _right(f"layer {truth} supplies {path}.")
    hidden = [s.layer for s in view.shadowed(path)]
    if answer in hidden:
        return _wrong(f"layer {answer} has a version of {path}, but it is hidden.",
                      "the topmost layer that has the path wins; lower versions are kept "
                      "but shadowed.")
    return _wrong(f"layer {answer!r} does not supply {path}.",
                  "look for the highest layer whose changes mention the path "
                  "(layers_table / changes_table), or use the explorer.")


# --- 03: containers -----------------------------------------------------------------------


def check_copy_ups(answer: Any, container: Container, *, since: int = 0) -> Verdict:
    """Which paths were copied up (``container.copy_ups[since:]``), any order?"""
    if answer is ...:
        return _NOT_ANSWERED
    given = _as_list(answer)
    if given is None:
        return _wrong(f"{answer!r} is not a list of paths", 'answer like ["/etc", "/etc/motd"].')
    truth = [c.path for c in container.copy_ups[since:]]
    missing, extra = _compare_sets(given, truth)
    if not missing and not extra:
        return _right(f"copied up: {_names(truth)}.")
    hint = ("before the first change to a lower file overlayfs copies the whole file up, "
            "and its parent directories first; new files and paths already in the "
            "read-write layer are not copied.")
    return _wrong(_set_message(missing, extra), hint)


def check_diff(answer: Any, container: Container) -> Verdict:
    """What does ``docker diff`` print: a list of ``"A /path"``, ``"C /path"``, ``"D /path"``?"""
    if answer is ...:
        return _NOT_ANSWERED
    given = _as_list(answer)
    if given is None:
        return _wrong(f"{answer!r} is not a list", 'answer like ["C /etc", "A /etc/new"].')
    truth = [str(c) for c in container.diff()]
    missing, extra = _compare_sets([" ".join(str(g).split()) for g in given], truth)
    if not missing and not extra:
        return _right(f"{truth}.")
    return _wrong(_set_message(missing, extra),
                  "every path in the read-write layer is listed: C if the image had it "
                  "(parent directories of a change count), A if new, D for a whiteout.")


def check_lifecycle(answer: Any) -> Verdict:
    """Does the read-write layer (and ``happy.txt``) stay after ``stop`` and after ``rm``?
    ``answer`` maps ``"stop"`` and ``"rm"`` to True (stays) or False (gone)."""
    if answer is ...:
        return _NOT_ANSWERED
    if not isinstance(answer, Mapping) or set(answer) != {"stop", "rm"}:
        return _wrong(f"{answer!r} is not a dict with the keys 'stop' and 'rm'",
                      'answer like {"stop": True, "rm": True}.')
    if bool(answer["stop"]) and not bool(answer["rm"]):
        return _right("stop ends the processes but keeps the read-write layer; rm deletes it.")
    if not answer["stop"]:
        return _wrong("a stopped container still has its read-write layer.",
                      "a container is image + read-write layer, running or not: stopping "
                      "only ends the processes, so happy.txt stays on the host.")
    return _wrong("rm removes the container together with its read-write layer.",
                  "only commit keeps the changes (as a new image layer); rm deletes the "
                  "container's directory on the host.")


# --- 04: processes --------------------------------------------------------------------------


def check_host_processes(answer: Any, host: Host, container: Container) -> Verdict:
    """``answer`` = (PIDs the container sees, how many processes the host sees)."""
    if answer is ...:
        return _NOT_ANSWERED
    if (not isinstance(answer, Sequence) or isinstance(answer, str) or len(answer) != 2
            or _as_list(answer[0]) is None):
        return _wrong(f"{answer!r} is not a pair", "answer like ([1, 2], 3).")
    pids = [p.pid for p in container.top()]
    count = len(host.processes())
    ok_pids = sorted(answer[0]) == pids
    ok_count = answer[1] == count
    if ok_pids and ok_count:
        return _right(f"the container sees PIDs {pids}; the host sees all {count} processes.")
    hints = []
    if not ok_pids:
        hints.append("each container numbers its own processes from PID 1 and sees only "
                     "those.")
    if not ok_count:
        hints.append("the host sees every running container's processes, each under a host "
                     "PID of its own; stopped containers have none.")
    what = []
    if not ok_pids:
        what.append(f"container PIDs {sorted(answer[0])!r}")
    if not ok_count:
        what.append(f"host count {answer[1]!r}")
    return _wrong(" and ".join(what) + " do not match.", " ".join(hints))


# --- 05: builds -----------------------------------------------------------------------------


def check_cache_hits(answer: Any, steps: Sequence[BuildStep]) -> Verdict:
    """Which step numbers (``step.index``) were cache hits?"""
    if answer is ...:
        return _NOT_ANSWERED
    given = _as_list(answer)
    if given is None:
        return _wrong(f"{answer!r} is not a list of step numbers", "answer like [2, 3].")
    truth = [s.index for s in steps if s.cache == "hit"]
    if sorted(set(given)) == truth:
        return _right(f"steps {truth} came from the cache.")
    missing, extra = _compare_sets(given, truth)
    firsts = [s for s in steps if s.cache == "miss"]
    hint = ("a step hits when its parent image, its instruction and (for COPY/ADD) the "
            "checksums of its files match; after the first miss every later step has a "
            "new parent, so it misses too.")
    if firsts:
        hint += f" The first miss is step {firsts[0].index}: {firsts[0].why}."
    return _wrong(_set_message(missing, extra), hint)


# --- 06: sizes and sharing --------------------------------------------------------------------


def _image_bytes(image: Image) -> int:
    return sum(layer.size for layer in image.layers)


def check_smaller_image(answer: Any, images: Mapping[str, Image]) -> Verdict:
    """Which of the named images stores the fewest bytes (sum of its layers' sizes)?"""
    if answer is ...:
        return _NOT_ANSWERED
    sizes = {name: _image_bytes(img) for name, img in images.items()}
    truth = min(sorted(sizes), key=lambda n: sizes[n])
    listing = ", ".join(f"{n}: {sizes[n]:,} bytes" for n in sorted(sizes))
    if answer == truth:
        return _right(f"{truth} ({listing}).")
    if answer not in sizes:
        return _wrong(f"{answer!r} is not one of {sorted(sizes)}", "answer with an image name.")
    return _wrong(f"{answer} is not the smallest ({listing}).",
                  "a file deleted in a later layer is only hidden: its bytes stay in the "
                  "layer that added it. Cleanup must happen in the same RUN.")


def check_shared_layers(answer: Any, images: Mapping[str, Image]) -> Verdict:
    """How many distinct layers (by chain_id) are used by more than one of ``images``?"""
    if answer is ...:
        return _NOT_ANSWERED
    from .views.analysis import sharing_rows

    rows = sharing_rows(images)
    truth = sum(1 for r in rows if r.shared)
    if answer == truth:
        return _right(f"{truth} shared layers, {len(rows) - truth} used by one image only.")
    return _wrong(f"{answer!r} shared layers; there are {len(rows)} distinct layers in all.",
                  "layers are shared by chain_id: the same base and the same steps in the "
                  "same order give the same layers; after the first different step nothing "
                  "above it is shared, even if it is the same command.")


# --- 07: the store ---------------------------------------------------------------------------


def check_store_entries(answer: Any, store: Store, relpath: str) -> Verdict:
    """How many entries are in the directory ``relpath`` under the store's root?"""
    if answer is ...:
        return _NOT_ANSWERED
    names = sorted(n for n in os.listdir(os.path.join(store.root, relpath))
                   if not n.startswith("."))
    if answer == len(names):
        return _right(f"{len(names)} entries in {relpath}/.")
    return _wrong(f"{relpath}/ has {len(names)} entries, not {answer!r}.",
                  "a layer is stored once however many images use it, and every container "
                  "adds its own read-write layer next to the image layers.")


def check_layerdb_key(answer: Any, store: Store, image: Image) -> Verdict:
    """Which id names the directories of ``image/<driver>/layerdb/sha256/``: ``"diff_id"``,
    ``"chain_id"``, ``"legacy_id"`` or ``"image_id"``?"""
    if answer is ...:
        return _NOT_ANSWERED
    root = os.path.join(store.root, "image", store.driver, "layerdb", "sha256")
    present = set(os.listdir(root))
    candidates = {
        "diff_id": [d.split(":", 1)[1] for d in image.diff_ids],
        "chain_id": [c.split(":", 1)[1] for c in image.chain_ids],
        "legacy_id": [legacy.id for legacy in image.legacy_layers],
        "image_id": [image.id.split(":", 1)[1]],
    }
    if answer not in candidates:
        return _wrong(f"{answer!r} is not one of {sorted(candidates)}", 'answer like "diff_id".')
    truth = "chain_id"
    if answer == truth and all(c in present for c in candidates[truth]):
        return _right("layerdb is keyed by chain_id: a layer together with everything "
                      "below it.")
    return _wrong(f"the layerdb directories are not named by {answer}.",
                  "the same diff_id on top of a different parent is a different layer on "
                  "disk, so the key must cover the layers below too; the parent pointer is "
                  "then a file inside the record.")


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

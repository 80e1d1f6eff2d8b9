"""Building an image one instruction at a time, as Docker's builders do.

Every step starts from the image the previous step produced. ``RUN``, ``COPY`` and
``ADD`` run in a container of that image and commit its read-write layer as a new layer;
``ENV``, ``CMD``, ``LABEL``... only change the config and add a history entry marked
``empty_layer`` (Docker's ``#(nop)`` lines). Before doing a step the builder asks the
cache; a hit reuses the earlier result, a miss says why.

>>> from layerlab.build import Builder
>>> builder = Builder('''
... FROM layerlab/tiny
... ENV GREETING=hello
... RUN echo "$GREETING" > /greeting.txt
... ''')
>>> for step in builder.steps():
...     print(step.index, step.text, step.cache, step.empty_layer)
1 FROM layerlab/tiny none False
2 ENV GREETING=hello miss True
3 RUN echo "$GREETING" > /greeting.txt miss False
>>> builder.image.view().read_text("/greeting.txt")
'hello\\n'

Two builders, as Docker has had two (``builder="classic"`` or ``"buildkit"``):

* the **classic builder** (``DOCKER_BUILDKIT=0``, deprecated since Engine 23) builds
  every stage up to the target, in order, needed or not, and records history as
  ``/bin/sh -c #(nop)  ENV A=1``; every step's result is an image of its own;
* **BuildKit** (the default since Engine 23) builds only the stages the target needs
  (through ``FROM stage`` and ``COPY --from=stage``) and skips the rest, records
  ``ENV A=1`` and ``RUN /bin/sh -c ... # buildkit`` with the comment
  ``buildkit.dockerfile.v0``, keeps no intermediate images, and sets the automatic
  platform args (``TARGETARCH``...).

Either way, only the final (target) stage's layers are in the image. ``--target`` is
``target=``; :attr:`Builder.stage_plan` says which stages were built or skipped, and why.

``RUN`` needs a shell (``/bin/sh``, or the ``SHELL``) in the image, as Docker does:
``FROM scratch`` has none, so ``RUN`` there fails with Docker's reason. The simulated
shell runs the command for images that have one (see :mod:`layerlab.shell`).

:func:`build` does it in one call and returns the image.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..changes import Change, of_layer
from ..container import CLOCK_START, Container
from ..digest import short
from ..errors import LayerlabError, LimitExceededError
from ..image import EPOCH, HistoryEntry, Image
from ..layer import Layer
from ..limits import DEFAULT_LIMITS, Limits
from ..paths import ROOT, join, normalize
from .base import BASE_IMAGES, base_image, is_base_image
from .cache import BuildCache, CacheEntry, step_key
from .context import BuildContext, ContextItem, Source, summary_digest
from .copying import copy_source, image_sources, resolve_owner
from .errors import BuildError, BuildLimitExceededError, DockerfileError
from .parser import (
    _HEREDOC,
    Dockerfile,
    Instruction,
    Stage,
    _instruction,
    duration_ns,
    expand,
    expand_words,
    parse_chmod,
    parse_dockerfile,
    split_pairs,
    split_words,
)

__all__ = ["BUILDERS", "PREDEFINED_ARGS", "BuildStep", "Builder", "StagePlan", "build"]

_NOP = "/bin/sh -c #(nop) "
#: the two builders layerlab imitates
BUILDERS = ("classic", "buildkit")
#: args Docker accepts from --build-arg without an ARG line (and keeps out of history)
PREDEFINED_ARGS = frozenset({"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                             "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
                             "all_proxy"})
#: BuildKit's automatic platform args (global scope; ``ARG TARGETARCH`` in a stage)
PLATFORM_ARGS = {"TARGETPLATFORM": "linux/amd64", "TARGETOS": "linux", "TARGETARCH": "amd64",
                 "TARGETVARIANT": "", "BUILDPLATFORM": "linux/amd64", "BUILDOS": "linux",
                 "BUILDARCH": "amd64", "BUILDVARIANT": ""}
_BUILDKIT_COMMENT = "buildkit.dockerfile.v0"
#: the PATH Docker's builders give a stage whose base sets none (system.DefaultPathEnv)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: bytes of ENV a stage's config may hold (ENV doubling stops here, LimitExceededError)
MAX_ENV_BYTES = 8 * 1024 * 1024
_URL = re.compile(r"^(https?://|git@|git://)")
#: ADD unpacks at most this much (a decompression bomb stops here); Limits(...) raises it
ADD_LIMITS = Limits(max_layer_bytes=min(DEFAULT_LIMITS.max_layer_bytes, 1024**3))


@dataclass(frozen=True)
class BuildStep:
    """What one instruction did: ``Step 3/7 : COPY app.py /app/`` and its outcome.

    ``cache`` is ``"hit"``, ``"miss"`` or ``"none"`` (``FROM``, and ``ARG`` before it,
    never use the cache) and ``why`` says why. ``layer`` is the new layer, or ``None``
    for an *empty layer* (metadata only); ``changes`` are the paths the layer adds
    (``A``), changes (``C``) or deletes (``D``) compared with the image below it.
    ``stage`` is the index of the build stage (``-1`` for ARG before the first FROM).
    """

    index: int
    total: int
    instruction: Instruction
    text: str
    cache: str
    why: str
    created_by: str
    layer: Layer | None
    image: Image
    changes: tuple[Change, ...] = ()
    output: str = ""
    cache_key: str = ""
    stage: int = -1

    @property
    def line(self) -> int:
        return self.instruction.line

    @property
    def empty_layer(self) -> bool:
        """True for a step that recorded history but made no layer (``FROM`` makes neither)."""
        return self.layer is None and self.cache != "none"

    @property
    def size(self) -> int:
        """Bytes of file content in the new layer (0 for an empty layer)."""
        return self.layer.size if self.layer is not None else 0

    def paths(self, kind: str) -> list[str]:
        """Paths with change ``kind``: ``"A"`` added, ``"C"`` changed, ``"D"`` deleted."""
        return [c.path for c in self.changes if c.kind == kind]

    def __str__(self) -> str:
        outcome = {"hit": "Using cache", "miss": "Running", "none": ""}[self.cache]
        made = "empty layer" if self.layer is None else f"layer {self.layer.short_id}"
        tail = f" ---> {outcome} ({self.why})" if outcome else f" ---> {self.why}"
        return f"Step {self.index}/{self.total} : {self.text}{tail}; {made}"


@dataclass(frozen=True)
class StagePlan:
    """One stage of the Dockerfile: whether this build builds it, and why."""

    index: int
    name: str
    base: str
    built: bool
    why: str

    @property
    def label(self) -> str:
        return f"stage {self.index}" + (f" ({self.name})" if self.name else "")


@dataclass
class _State:
    image: Image
    stage: int = -1
    args: dict[str, str] = field(default_factory=dict)  # ARGs in scope, with values
    global_args: dict[str, str] = field(default_factory=dict)  # ARGs before FROM
    cmd_set: bool = False
    missed: bool = False
    started: bool = False

    def env(self) -> dict[str, str]:
        """What substitution sees: ARG values, overridden by ENV."""
        scope = self.args if self.started else self.global_args
        return {**scope, **self.image.config.env_dict()}


_Work = Callable[[], tuple[Image, "Layer | None", str]]
_Plan = tuple[str, str, dict[str, str], _Work]


class Builder:
    """Builds an image from a Dockerfile, one :class:`BuildStep` at a time.

    ``dockerfile`` is the text, a path, or a parsed :class:`Dockerfile`; ``context`` the
    directory COPY and ADD read from (its ``.dockerignore`` applies). ``images`` maps
    names ``FROM`` and ``COPY --from`` may use to images (besides ``scratch`` and the
    built-in ``layerlab/tiny``, ``layerlab/alpine-like``, ``layerlab/debian-like``).
    ``target`` names the stage to build (``--target``; default the last);
    ``builder`` is ``"classic"`` or ``"buildkit"`` (see the module docstring).
    Pass one :class:`BuildCache` to several builds to share it; ``no_cache=True``
    ignores it (results are still stored). ``source_date_epoch`` (seconds) fixes history
    timestamps and file mtimes, like ``SOURCE_DATE_EPOCH``; by default they are fixed
    anyway, so builds are reproducible. ``limits`` caps what ``ADD`` unpacks.

    The whole Dockerfile is checked when the builder is made: a broken line, an unknown
    ``--target``, a base image that does not exist or an ``ADD <url>`` raise before
    step 1 runs.
    """

    def __init__(
        self,
        dockerfile: str | os.PathLike[str] | Dockerfile | None = None,
        context: str | os.PathLike[str] | None = None,
        *,
        images: Mapping[str, Image] | None = None,
        build_args: Mapping[str, str] | None = None,
        cache: BuildCache | None = None,
        no_cache: bool = False,
        source_date_epoch: int | None = None,
        real: bool = False,
        target: str | None = None,
        builder: str = "classic",
        limits: Limits = ADD_LIMITS,
        dockerignore: str | None = None,
    ) -> None:
        self.dockerfile = _load(dockerfile, context)
        if builder not in BUILDERS:
            raise BuildError(f"builder={builder!r}: use 'classic' or 'buildkit'")
        self.builder = builder
        #: run RUN steps as real processes (layerlab.realmode), falling back when impossible
        self.real = real
        path = dockerfile if isinstance(dockerfile, os.PathLike) or (
            isinstance(dockerfile, str) and "\n" not in dockerfile
            and os.path.isfile(dockerfile)) else None
        self.context = BuildContext(context, ignore=dockerignore, dockerfile=path) \
            if context is not None else None
        self.images = dict(images or {})
        self.build_args = dict(build_args or {})
        self.cache = cache if cache is not None else BuildCache()
        self.no_cache = no_cache
        self.source_date_epoch = source_date_epoch
        self.limits = limits
        self.results: list[BuildStep] = []
        self.image: Image | None = None
        #: the final image of each stage built, by stage index
        self.stage_images: dict[int, Image] = {}
        self.warnings: list[str] = []
        self._declared: set[str] = set()
        self.global_args = self._global_args()
        self.target = self._target(target)
        #: every stage with whether it is built and why
        self.stage_plan = self._plan_stages()
        self._check()

    def __repr__(self) -> str:
        n = len(self.dockerfile.instructions)
        return (f"<Builder ({self.builder}): {n} instructions, {len(self.results)} done, "
                f"{self.cache!r}>")

    # --- before step 1 -------------------------------------------------------------------
    def _global_args(self) -> dict[str, str]:
        scope = dict(PLATFORM_ARGS) if self.builder == "buildkit" else {}
        for ins in self.dockerfile.global_args:
            for name, value in self._arg_values(scope, ins):
                if value is not None:
                    scope[name] = value
        return scope

    def _target(self, target: str | None) -> Stage:
        stages = self.dockerfile.stages
        if target is None:
            return stages[-1]
        found = self.dockerfile.stage(target)
        if found is None:
            names = [s.name for s in stages if s.name]
            raise BuildError(f"target stage {target!r} could not be found (stages: "
                             f"{', '.join(names) or 'none has a name'})")
        return found

    def _stage_ref(self, ref: str, before: int) -> Stage | None:
        """The earlier stage ``ref`` (a name, or an index for --from) names, if any."""
        stage = self.dockerfile.stage(ref)
        return stage if stage is not None and stage.index < before else None

    def _deps(self, stage: Stage) -> list[tuple[Stage, str]]:
        out: list[tuple[Stage, str]] = []
        base = expand(stage.base, self.global_args, self.dockerfile.escape)
        found = self._stage_ref(base, stage.index)
        if found is not None and found.name == base.lower():
            out.append((found, f"FROM {base} on line {stage.from_instruction.line}"))
        for ins in stage.instructions:
            ref = ins.flag("from") if ins.keyword == "COPY" else None
            if ref is None:
                continue
            ref = expand(ref, self.global_args, self.dockerfile.escape)
            found = self._stage_ref(ref, stage.index)
            if found is not None:
                out.append((found, f"COPY --from={ref} on line {ins.line}"))
        return out

    def _plan_stages(self) -> list[StagePlan]:
        stages = self.dockerfile.stages
        target = self.target
        needed: dict[int, str] = {target.index: "the target stage"}
        todo = [target]
        while todo:
            stage = todo.pop()
            for dep, why in self._deps(stage):
                if dep.index not in needed:
                    needed[dep.index] = f"needed by {_label(stage)}: {why}"
                    todo.append(dep)
        plans: list[StagePlan] = []
        for s in stages:
            if s.index > target.index:
                built, why = False, f"after the target {_label(target)}: never built"
            elif s.index in needed:
                built, why = True, needed[s.index]
            elif self.builder == "classic":
                built, why = True, ("not needed by the target, built anyway: the classic "
                                    "builder builds every stage up to the target, in order")
            else:
                built, why = False, ("not needed by the target: BuildKit skips it (no "
                                     "FROM or COPY --from reaches it)")
            plans.append(StagePlan(s.index, s.name, s.base, built, why))
        return plans

    def _check(self) -> None:
        """Everything that can be known before step 1: bases, --from images, ADD URLs."""
        for plan in self.stage_plan:
            if not plan.built:
                continue
            stage = self.dockerfile.stages[plan.index]
            base = expand(stage.base, self.global_args, self.dockerfile.escape)
            if self._stage_ref(base, stage.index) is None:
                self._resolve_image(base, stage.from_instruction)
            for ins in stage.instructions:
                target = ins.flag("from") if ins.keyword == "COPY" else None
                if target is not None:
                    ref = expand(target, self.global_args, self.dockerfile.escape)
                    if self._stage_ref(ref, stage.index) is None:
                        self._resolve_image(ref, ins)
                if ins.keyword == "ADD" and ins.json is None:
                    for word in split_words(ins.args, self.dockerfile.escape)[:-1]:
                        if _URL.match(word):
                            raise ins.error(
                                f"ADD {word}: layerlab builds offline and does not download "
                                "(Docker would fetch the URL at build time); download the "
                                "file into the build context and COPY it")

    def _resolve_image(self, name: str, ins: Instruction) -> Image:
        if name == "scratch":
            return Image.scratch()
        for candidate in (name, name.removesuffix(":latest"), f"{name}:latest"):
            if candidate in self.images:
                return self.images[candidate]
        if is_base_image(name):
            return base_image(name)
        known = ", ".join(["scratch", *self.images, *BASE_IMAGES])
        what = "base image" if ins.keyword == "FROM" else "image for COPY --from"
        raise BuildError(f"{what} {name!r} not found (available: {known}; pass "
                         "images={name: image} to use another)", line=ins.line,
                         instruction=ins.text)

    # --- driving ---------------------------------------------------------------------------
    def steps(self) -> Iterator[BuildStep]:
        """Run the build, yielding each step as it finishes (a fresh build each call)."""
        self.results = []
        self.image = None
        self.stage_images = {}
        self.warnings = []
        self._declared = {n for ins in self.dockerfile.global_args
                          for n, _ in self._arg_values({}, ins)}
        built = [self.dockerfile.stages[p.index] for p in self.stage_plan if p.built]
        globals_ = self.dockerfile.global_args
        total = len(globals_) + sum(1 + len(s.instructions) for s in built)
        index = 0
        for ins in globals_:
            index += 1
            step = BuildStep(index, total, ins, ins.text, "none",
                             "ARG before FROM: only FROM lines can use it", "", None,
                             Image.scratch())
            self.results.append(step)
            yield step
        for stage in built:
            state = _State(Image.scratch(), stage=stage.index,
                           global_args=dict(self.global_args))
            index += 1
            step = self._guarded(state, index, total, stage.from_instruction)
            self.results.append(step)
            yield step
            for trigger in self._triggers(state, stage):
                step = self._guarded(state, index, total, trigger, trigger=True)
                self.results.append(step)
                yield step
            for ins in stage.instructions:
                index += 1
                step = self._guarded(state, index, total, ins)
                self.results.append(step)
                yield step
            self.stage_images[stage.index] = state.image
        self.image = self.stage_images[self.target.index]
        unused = sorted(set(self.build_args) - self._declared - PREDEFINED_ARGS)
        if unused:
            self.warnings.append(f"build args not consumed by any ARG: {', '.join(unused)}")

    def run(self, on_step: Callable[[BuildStep], None] | None = None) -> Image:
        """Run every step (calling ``on_step`` after each) and return the image."""
        for step in self.steps():
            if on_step is not None:
                on_step(step)
        assert self.image is not None
        return self.image

    def _guarded(self, state: _State, index: int, total: int, ins: Instruction, *,
                 trigger: bool = False) -> BuildStep:
        try:
            step = self._step(state, index, total, ins)
        except (BuildError, DockerfileError):
            raise
        except LimitExceededError as exc:  # a cap: both a step error and a cap error
            raise BuildLimitExceededError(str(exc), step=index, line=ins.line,
                                          instruction=ins.text) from exc
        except LayerlabError as exc:  # a container or path error: name the step
            raise BuildError(str(exc), step=index, line=ins.line,
                             instruction=ins.text) from exc
        if trigger:
            step = BuildStep(step.index, step.total, step.instruction,
                             f"# ONBUILD trigger from the base image: {step.text}",
                             step.cache, step.why, step.created_by, step.layer, step.image,
                             step.changes, step.output, step.cache_key, step.stage)
        return step

    def _triggers(self, state: _State, stage: Stage) -> list[Instruction]:
        """The base image's ONBUILD triggers, run right after FROM (then cleared)."""
        triggers = state.image.config.onbuild
        if not triggers:
            return []
        state.image = state.image.with_config(onbuild=[])
        out = []
        for text in triggers:
            try:
                out.append(_instruction(text, stage.from_instruction.line,
                                        stage.from_instruction.line, self.dockerfile.escape))
            except DockerfileError as exc:
                raise BuildError(f"ONBUILD trigger {text!r} of the base image: {exc.problem}",
                                 line=stage.from_instruction.line,
                                 instruction=stage.from_instruction.text) from None
        return out

    # --- one step ----------------------------------------------------------------------
    def _step(self, state: _State, index: int, total: int, ins: Instruction) -> BuildStep:
        k = ins.keyword
        if k == "FROM":
            state.image, why = self._from(state, ins)
            state.started = True
            return BuildStep(index, total, ins, f"FROM {ins.args}", "none", why, "", None,
                             state.image, stage=state.stage)
        text, created_by, sources, work = self._plan(state, ins, index)
        parent = state.image
        key_text = created_by if self.builder == "buildkit" or k in ("COPY", "ADD") \
            else created_by.removeprefix(_NOP).strip()
        if k in ("COPY", "ADD"):
            key_text = text if self.builder == "classic" else f"{text} # buildkit"
        key = step_key(parent.id, key_text, dict(sources))
        entry = None if self.no_cache else self.cache.lookup(key)
        output = ""
        if entry is not None:
            cache = "hit"
            why = "parent + instruction" + (" + source checksums" if sources else "") + " matched"
            image, layer = entry.image, entry.layer
        else:
            cache = "miss"
            if self.no_cache:
                why = "no_cache=True"
            else:
                why = self.cache.explain_miss(parent.id, key_text, sources)
                if state.missed and why.startswith("no cache entry for this parent"):
                    why = "previous step missed, so the parent image is new"
            image, layer, output = work()
            self.cache.store(CacheEntry(key, key_text, parent.id, dict(sources), image, layer))
            state.missed = True
        state.image = image
        # what the step's layer did to its parent, as Docker's layer Changes() sees it
        changes = tuple(of_layer(image, len(image.layers) - 1)) if layer is not None else ()
        return BuildStep(index, total, ins, text, cache, why, created_by, layer, image,
                         changes, output, key, state.stage)

    def _arg_values(self, scope: Mapping[str, str], ins: Instruction,
                    inherit: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
        """``(name, value)`` of an ARG line: --build-arg, else its default, else (in a
        stage, ``ARG NAME`` alone) the value the global ARG of that name has."""
        out: list[tuple[str, str | None]] = []
        for word in split_words(ins.args, self.dockerfile.escape):
            name, eq, default = word.partition("=")
            self._declared.add(name)
            value: str | None = expand(default, scope, self.dockerfile.escape) if eq \
                else (inherit or {}).get(name)
            out.append((name, self.build_args.get(name, value)))
        return out

    def _from(self, state: _State, ins: Instruction) -> tuple[Image, str]:
        image, why = self._from_image(state, ins)
        if "PATH" not in image.config.env_dict():
            # both builders add the default PATH when the base has none (scratch)
            image = image.with_config(env=[*image.config.env, f"PATH={DEFAULT_PATH}"])
            why += "; the builder adds the default PATH"
        return image, why

    def _from_image(self, state: _State, ins: Instruction) -> tuple[Image, str]:
        name = expand(ins.args.split()[0], state.global_args, self.dockerfile.escape)
        stage = self._stage_ref(name, state.stage)
        if stage is not None and stage.name == name.lower():
            image = self.stage_images[stage.index]
            return image, f"the result of {_label(stage)}: {len(image.layers)} layers"
        image = self._resolve_image(name, ins)
        if name == "scratch":
            return image, "scratch: the empty image, no layers (and no shell)"
        if name in self.images or f"{name}:latest" in self.images or \
                name.removesuffix(":latest") in self.images:
            return image, f"base image {name!r} from images=: {len(image.layers)} layers"
        return image, (f"built-in teaching base {name!r}: {len(image.layers)} layer, "
                       f"id {short(image.id)}")

    def _history_text(self, classic: str, buildkit: str | None = None) -> str:
        """``created_by`` as this builder records a metadata step."""
        if self.builder == "buildkit":
            return buildkit if buildkit is not None else classic
        return f"{_NOP} {classic}"

    def _plan(self, state: _State, ins: Instruction, index: int) -> _Plan:
        """(text after substitution, created_by, source checksums, the work to do)."""
        k, esc, env, image = ins.keyword, self.dockerfile.escape, state.env(), state.image
        cfg = image.config

        def meta(text: str, config: dict[str, object] | None = None,
                 history: str | None = None, author: str | None = None) -> _Plan:
            created_by = self._history_text(history or text)

            def work() -> tuple[Image, Layer | None, str]:
                changed = image.with_config(**config) if config else image
                return self._record(changed, None, created_by, author=author), None, ""
            return text, created_by, {}, work

        if k == "ARG":
            values = self._arg_values(env, ins, state.global_args)
            state.args.update({n: v for n, v in values if v is not None})
            return meta(f"ARG {ins.args}")
        if k in ("ENV", "LABEL"):
            pairs = [(expand(n, env, esc), expand(v, env, esc)) for n, v in split_pairs(ins, esc)]
            text = f"{k} " + " ".join(f"{n}={v}" for n, v in pairs)
            if k == "ENV":
                merged = {**cfg.env_dict(), **dict(pairs)}
                size = sum(len(n) + len(v) + 1 for n, v in merged.items())
                if size > MAX_ENV_BYTES:
                    raise LimitExceededError(
                        f"Dockerfile line {ins.line}: ENV would hold {size:,} bytes, above "
                        f"the cap of {MAX_ENV_BYTES:,} (layerlab.build.builder.MAX_ENV_BYTES)")
                return meta(text, config={"env": [f"{n}={v}" for n, v in merged.items()]})
            return meta(text, config={"labels": {**dict(cfg.labels), **dict(pairs)}})
        if k == "MAINTAINER":
            return meta(f"MAINTAINER {ins.args}", author=ins.args)
        if k == "EXPOSE":
            ports = [p for w in expand_words(ins.args, env, esc) for p in _ports(ins, w)]
            shown = "map[" + " ".join(f"{p}:{{}}" for p in sorted(set(ports))) + "]"
            return meta("EXPOSE " + " ".join(ports), history=None if self.builder == "classic"
                        else f"EXPOSE {shown}",
                        config={"exposed_ports": sorted({*cfg.exposed_ports, *ports})})
        if k == "USER":
            user = expand(ins.args, env, esc)
            return meta(f"USER {user}", config={"user": user})
        if k == "VOLUME":
            paths = list(ins.json) if ins.json is not None else expand_words(ins.args, env, esc)
            paths = [expand(p, env, esc) for p in paths] if ins.json is not None else paths
            if not paths or any(not p.strip() for p in paths):
                raise ins.error("VOLUME needs at least one non-empty path")
            return meta("VOLUME [" + " ".join(paths) + "]",
                        config={"volumes": sorted({*cfg.volumes, *paths})})
        if k == "STOPSIGNAL":
            sig = expand(ins.args, env, esc)
            _check_signal(ins, sig)
            return meta(f"STOPSIGNAL {sig}", config={"stop_signal": sig})
        if k == "SHELL":
            assert ins.json is not None
            return meta("SHELL [" + " ".join(ins.json) + "]", config={"shell": list(ins.json)})
        if k == "ONBUILD":
            return meta(f"ONBUILD {ins.args}", config={"onbuild": [*cfg.onbuild, ins.args]})
        if k == "HEALTHCHECK":
            check = _healthcheck(ins, esc, _shell(cfg))
            return meta(f"HEALTHCHECK {_go_healthcheck(check)}", config={"healthcheck": check})
        if k in ("CMD", "ENTRYPOINT"):
            argv = list(ins.json) if ins.json is not None else [*_shell(cfg), ins.args]
            shown = "[" + " ".join(_go_quote(a) for a in argv) + "]"
            if k == "CMD":
                state.cmd_set = True
                return meta(f"CMD {shown}", config={"cmd": argv})
            extra: dict[str, object] = {} if state.cmd_set else {"cmd": None}
            return meta(f"ENTRYPOINT {shown}", config={"entrypoint": argv, **extra})
        if k == "WORKDIR":
            path = _in_workdir(cfg.workdir, expand(ins.args, env, esc))
            text = f"WORKDIR {path}"
            created_by = text if self.builder == "buildkit" else f"{_NOP}{text}"
            if _is_dir(image, path):
                def same() -> tuple[Image, Layer | None, str]:
                    changed = image.with_config(workdir=path)
                    return self._record(changed, None, created_by), None, ""
                return text, created_by, {}, same

            def mkdir() -> tuple[Image, Layer | None, str]:
                c = self._container(image, index)
                c.mkdir(path, parents=True)
                return self._commit(c, created_by, workdir=path), None, ""
            return text, created_by, {}, self._layered(mkdir)
        if k == "RUN":
            return self._plan_run(state, ins, index)
        return self._plan_copy(state, ins, index)

    def _plan_run(self, state: _State, ins: Instruction, index: int) -> _Plan:
        image = state.image
        shell = _shell(image.config)
        if ins.heredocs and ins.json is None:
            script = ins.args
            if _HEREDOC.fullmatch(script.strip()):  # RUN <<EOF: the document is the script
                script = _heredoc_text(ins.heredocs[0], state.env(), self.dockerfile.escape)
            else:  # the shell reads the heredocs (a real shell; the simulated one refuses)
                script = ins.args + "\n" + "".join(
                    f"{h.content}{h.name}\n" for h in ins.heredocs)
            argv = [*shell, script]
        elif ins.json is not None:
            argv = list(ins.json)
        else:
            argv = [*shell, ins.args]
        shown = " ".join(argv)
        # declared ARGs are recorded; proxy args given only as --build-arg are not
        args = sorted(state.args.items())
        proxies = {n: v for n, v in self.build_args.items()
                   if n in PREDEFINED_ARGS and n not in state.args}
        prefix = f"|{len(args)} " + "".join(f"{n}={v} " for n, v in args) if args else ""
        created_by = prefix + shown
        if self.builder == "buildkit":
            created_by = f"RUN {created_by} # buildkit"

        def work() -> tuple[Image, Layer | None, str]:
            _need_program(image, argv[0], ins, index, shell=ins.json is None)
            c = self._container(image, index)
            c.env = {**c.env, **{n: v for n, v in {**proxies, **state.args}.items()
                                 if n not in image.config.env_dict()}}
            result = c.run_argv(argv, real=self.real)
            if result.exit_code != 0:
                raise BuildError(
                    f"The command '{shown}' returned a non-zero code: {result.exit_code}"
                    + (f": {result.stderr.strip()}" if result.stderr.strip() else ""),
                    step=index, line=ins.line, instruction=ins.text,
                    command=argv[-1] if ins.json is None else " ".join(argv),
                    exit_code=result.exit_code, stderr=result.stderr)
            return self._commit(c, created_by), None, result.stdout + result.stderr
        return f"RUN {ins.args}" if ins.json is None else ins.text, created_by, {}, \
            self._layered(work)

    def _plan_copy(self, state: _State, ins: Instruction, index: int) -> _Plan:
        k, esc, env, image = ins.keyword, self.dockerfile.escape, state.env(), state.image
        words = [expand(w, env, esc) for w in ins.json] if ins.json is not None \
            else expand_words(ins.args, env, esc)
        flags = {n: expand(v, env, esc) for n, v in ins.flags}
        *srcs, dest = words
        shown_flags = [f"--{n}" if v == "" else f"--{n}={v}" for n, v in flags.items()]
        text = " ".join([k, *shown_flags, *words])

        def fail(problem: str) -> BuildError:
            return BuildError(problem, step=index, line=ins.line, instruction=ins.text)

        mode = None
        if "chmod" in flags:
            try:
                mode = parse_chmod(flags["chmod"])
            except ValueError as exc:
                raise fail(str(exc)) from None
        heredocs = {f"<<{h.name}": h for h in ins.heredocs}
        heredocs.update({f"<<-{h.name}": h for h in ins.heredocs})
        sources: list[Source] = []
        from_ref = flags.get("from")
        try:
            if from_ref is not None:
                stage = self._stage_ref(from_ref, state.stage)
                if stage is not None:
                    src_image, where = self.stage_images[stage.index], _label(stage)
                else:
                    src_image, where = self._resolve_image(from_ref, ins), f"image {from_ref!r}"
                sources = [s for src in srcs for s in image_sources(src_image, src, where)]
            else:
                for src in srcs:
                    doc = heredocs.get(src) or heredocs.get(src.replace('"', "").replace("'", ""))
                    if doc is not None:
                        content = _heredoc_text(doc, env, esc) if doc.expand else doc.content
                        item = ContextItem(doc.name, "", "file", 0o644,
                                           content=content.encode())
                        sources.append(Source(doc.name, False, (item,)))
                        continue
                    if self.context is None:
                        raise fail(f"{k} needs a build context: pass context=<directory>")
                    if _URL.match(src):
                        raise fail(f"{k} {src}: layerlab builds offline and does not "
                                   "download; put the file in the build context")
                    sources.extend(self.context.collect(src))
        except BuildError as exc:
            if exc.step:
                raise
            raise type(exc)(exc.problem, step=index, line=ins.line,
                            instruction=ins.text) from None
        checksums = {i.rel or ".": i.checksum for s in sources for i in s.items if i.kind}
        target = _in_workdir(image.config.workdir, dest)
        into_dir = dest.endswith("/") or len(sources) > 1 or _is_dir(image, target)
        if len(sources) > 1 and not dest.endswith("/"):
            raise fail(f"when using {k} with more than one source file, the destination "
                       "must be a directory and end with a /")
        if self.builder == "buildkit":
            created_by = f"{text} # buildkit"
        else:
            shown = " ".join(f"--{n}={v}" for n, v in flags.items() if n == "chown")
            created_by = f"{_NOP}{k} {shown + ' ' if shown else ''}" \
                         f"{summary_digest(sources)} in {dest} "
        owner = flags.get("chown")
        ids = resolve_owner(image, owner, ins) if owner else None
        notes = [f"skipped {p!r}: Docker does not copy FIFOs, sockets or devices"
                 for s in sources for p in s.skipped]

        def work() -> tuple[Image, Layer | None, str]:
            c = self._container(image, index)
            for source in sources:
                copy_source(c, source, target, into_dir, ids, mode, unpack=k == "ADD",
                            limits=self.limits, note=notes.append)
            return self._commit(c, created_by), None, "".join(f"{n}\n" for n in notes)
        return text, created_by, checksums, self._layered(work)

    # --- helpers -------------------------------------------------------------------------
    def _created(self) -> str:
        if self.source_date_epoch is None:
            return EPOCH
        when = datetime.fromtimestamp(self.source_date_epoch, tz=timezone.utc)
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _container(self, image: Image, index: int) -> Container:
        clock = CLOCK_START if self.source_date_epoch is None else self.source_date_epoch
        return Container(image, name=f"layerlab-build-step-{index}", clock_start=clock)

    def _record(self, image: Image, layer: Layer | None, created_by: str, *,
                author: str | None = None) -> Image:
        comment = _BUILDKIT_COMMENT if self.builder == "buildkit" else ""
        entry = HistoryEntry(created_by=created_by, created=self._created(),
                             empty_layer=layer is None, comment=comment)
        layers = image.layers if layer is None else (*image.layers, layer)
        return Image(layers, config=image.config, history=(*image.history, entry),
                     architecture=image.architecture, os=image.os, created=self._created(),
                     author=image.author if author is None else author)

    def _commit(self, c: Container, created_by: str, **config: object) -> Image:
        comment = _BUILDKIT_COMMENT if self.builder == "buildkit" else ""
        layer = c.rw.to_layer(created_by=created_by, comment=comment)
        base = c.image.with_config(**config) if config else c.image
        return self._record(base, layer, created_by)

    @staticmethod
    def _layered(work: _Work) -> _Work:
        """Wrap work that committed a layer: report that layer as the step's layer."""
        def run() -> tuple[Image, Layer | None, str]:
            image, _, output = work()
            return image, image.layers[-1], output
        return run


def build(
    dockerfile: str | os.PathLike[str] | Dockerfile | None = None,
    context: str | os.PathLike[str] | None = None,
    *,
    on_step: Callable[[BuildStep], None] | None = None,
    **options: Any,
) -> Image:
    """Build in one call and return the image (``docker build`` without the daemon).

    ``on_step`` is called with each :class:`BuildStep`; for the list afterwards use
    ``Builder(...).run()`` and ``builder.results``. Other keywords go to :class:`Builder`.

    >>> img = build("FROM layerlab/tiny\\nCMD [\\"echo\\", \\"hi\\"]\\n")
    >>> img.config.cmd, img.history[-1].created_by
    (('echo', 'hi'), '/bin/sh -c #(nop)  CMD ["echo" "hi"]')
    """
    return Builder(dockerfile, context, **options).run(on_step)


# --- small pure helpers ----------------------------------------------------------------

def _label(stage: Stage) -> str:
    return stage.label


def _load(dockerfile: str | os.PathLike[str] | Dockerfile | None,
          context: str | os.PathLike[str] | None) -> Dockerfile:
    if isinstance(dockerfile, Dockerfile):
        return dockerfile
    if dockerfile is None:
        if context is None:
            raise BuildError("give a Dockerfile (text or path) or a context with a Dockerfile")
        dockerfile = os.path.join(os.fspath(context), "Dockerfile")
        if not os.path.isfile(dockerfile):
            raise BuildError(f"no Dockerfile in the context: {dockerfile!r} does not exist")
    if isinstance(dockerfile, os.PathLike) or ("\n" not in dockerfile
                                               and os.path.isfile(dockerfile)):
        return Dockerfile.from_path(dockerfile)
    return parse_dockerfile(dockerfile)


def _shell(cfg: Any) -> list[str]:
    return list(cfg.shell) if cfg.shell else ["/bin/sh", "-c"]


def _heredoc_text(doc: Any, env: Mapping[str, str], escape: str) -> str:
    if not doc.expand:
        return str(doc.content)
    out = []
    for line in str(doc.content).splitlines(keepends=True):
        out.append(re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?",
                          lambda m: expand(m.group(0), env, escape), line))
    return "".join(out)


def _need_program(image: Image, program: str, ins: Instruction, index: int, *,
                  shell: bool) -> None:
    """RUN fails, as in Docker, when the image has no such program (scratch has no /bin/sh)."""
    if image.layers:
        view = image.view()
        if "/" in program:
            candidates = [normalize(program if program.startswith("/") else "/" + program)]
        else:
            path = image.config.env_dict().get(
                "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            candidates = [join(normalize(d or "/"), program) for d in path.split(":") if d]
        for candidate in candidates:
            try:
                if view.exists(candidate) and not view.stat(candidate,
                                                            follow_symlinks=True).is_dir:
                    return
            except LayerlabError:
                continue
    what = "no shell" if shell else f"no {program!r}"
    scratch = " (FROM scratch: the empty image has no files at all)" if not image.layers \
        else ""
    raise BuildError(
        f"the image has {what}{scratch}: Docker fails the same way (exec: \"{program}\": "
        "stat " + program + ": no such file or directory). RUN runs a program from the "
        "image itself; use a base image that has it, or COPY a static binary in and use the "
        "exec form", step=index, line=ins.line, instruction=ins.text)


def _check_signal(ins: Instruction, sig: str) -> None:
    if sig.isdigit():
        if not 0 < int(sig) <= 64:
            raise ins.error(f"STOPSIGNAL {sig}: signal numbers go from 1 to 64")
        return
    name = sig.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    if re.fullmatch(r"SIGRTM(IN|AX)([+-]\d+)?", name):
        return
    if not hasattr(signal.Signals, name) and name not in ("SIGPOLL", "SIGCLD", "SIGIOT"):
        raise ins.error(f"STOPSIGNAL {sig}: invalid signal (SIGTERM, SIGQUIT, 9...)")


def _healthcheck(ins: Instruction, escape: str, shell: list[str]) -> dict[str, Any]:
    words = split_words(ins.args, escape)
    if words[0].upper() == "NONE":
        return {"Test": ["NONE"]}
    rest = ins.args.split(None, 1)[1].strip()
    if rest.startswith("["):
        parsed = _instruction(f"CMD {rest}", ins.line, ins.line, escape)
        test = ["CMD", *(parsed.json or ())]
    else:
        test = ["CMD-SHELL", rest]
    check: dict[str, Any] = {"Test": test}
    names = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
             "start-interval": "StartInterval"}
    for flag, key in names.items():
        value = ins.flag(flag)
        if value is not None and duration_ns(value, ins):
            check[key] = duration_ns(value, ins)
    retries = ins.flag("retries")
    if retries is not None and int(retries):
        check["Retries"] = int(retries)
    return check


def _go_duration(ns: int) -> str:
    """Go's ``time.Duration.String`` for the values HEALTHCHECK takes."""
    if ns == 0:
        return "0s"
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:g}µs"
    if ns < 10**9:
        return f"{ns / 1_000_000:g}ms"
    seconds = ns / 10**9
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    if minutes:
        return f"{int(minutes)}m{text}"
    return text


def _go_healthcheck(check: Mapping[str, Any]) -> str:
    """``%q`` of Docker's HealthConfig, as history records it:
    ``&{["CMD-SHELL" "curl -f http://localhost/"] "30s" "3s" "0s" "0s" '\\x03'}``."""
    test = "[" + " ".join(_go_quote(t) for t in check["Test"]) + "]"
    times = " ".join(_go_quote(_go_duration(int(check.get(k, 0))))
                     for k in ("Interval", "Timeout", "StartPeriod", "StartInterval"))
    retries = int(check.get("Retries", 0))
    char = chr(retries) if 32 <= retries < 127 and retries != 39 else None
    rune = f"'{char}'" if char is not None else {7: "'\\a'", 8: "'\\b'", 9: "'\\t'",
                                                 10: "'\\n'", 11: "'\\v'", 12: "'\\f'",
                                                 13: "'\\r'", 39: "'\\''"}.get(
        retries, f"'\\x{retries:02x}'" if retries < 256 else f"'\\u{retries:04x}'")
    return f"&{{{test} {times} {rune}}}"


def _in_workdir(workdir: str, path: str) -> str:
    """An absolute path stays; a relative one is taken from the working directory."""
    return normalize(path if path.startswith("/") else join(workdir or ROOT, path))


def _go_quote(text: str) -> str:
    """Quote like Go's %q, which Docker uses for CMD/ENTRYPOINT in history."""
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def _ports(ins: Instruction, word: str) -> list[str]:
    port, _, proto = word.partition("/")
    proto = proto.lower() or "tcp"
    low, _, high = port.partition("-")
    if proto not in ("tcp", "udp", "sctp") or not low.isdigit() or (high and not high.isdigit()):
        raise ins.error(f"invalid port {word!r}: use 80, 80/tcp, 53/udp or 8000-8010")
    first, last = int(low), int(high or low)
    if not 0 < first <= last <= 65535:
        raise ins.error(f"invalid port range {word!r}")
    return [f"{p}/{proto}" for p in range(first, last + 1)]


def _is_dir(image: Image, path: str) -> bool:
    if not image.layers:
        return False
    view = image.view()
    return view.exists(path) and view.stat(path, follow_symlinks=True).is_dir

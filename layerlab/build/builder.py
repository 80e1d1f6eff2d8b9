"""Building an image one instruction at a time, as Docker's classic builder does.

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

:func:`build` does it in one call and returns the image.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..container import CLOCK_START, Change, Container
from ..digest import short
from ..entry import Entry, EntryKind
from ..errors import LayerlabError, PathLookupError
from ..image import EPOCH, HistoryEntry, Image
from ..layer import Layer
from ..paths import ROOT, ancestors, join, normalize
from ..tarstream import detect_compression
from .base import BASE_IMAGES, base_image, is_base_image
from .cache import BuildCache, CacheEntry, step_key
from .context import BuildContext, ContextItem, Source, summary_digest
from .errors import BuildError, DockerfileError
from .parser import Dockerfile, Instruction, expand, expand_words, parse_dockerfile, split_pairs

__all__ = ["BuildStep", "Builder", "build"]

_NOP = "/bin/sh -c #(nop) "


@dataclass(frozen=True)
class BuildStep:
    """What one instruction did: ``Step 3/7 : COPY app.py /app/`` and its outcome.

    ``cache`` is ``"hit"``, ``"miss"`` or ``"none"`` (``FROM``, and ``ARG`` before it,
    never use the cache) and ``why`` says why. ``layer`` is the new layer, or ``None``
    for an *empty layer* (metadata only); ``changes`` are the paths the layer adds
    (``A``), changes (``C``) or deletes (``D``) compared with the image below it.
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


@dataclass
class _State:
    image: Image
    args: dict[str, str] = field(default_factory=dict)  # ARGs in scope, with values
    global_args: dict[str, str] = field(default_factory=dict)  # ARGs before FROM
    declared: set[str] = field(default_factory=set)
    cmd_set: bool = False
    missed: bool = False
    started: bool = False

    def env(self) -> dict[str, str]:
        """What substitution sees: ARG values, overridden by ENV."""
        scope = self.args if self.started else self.global_args
        return {**scope, **self.image.config.env_dict()}


class Builder:
    """Builds an image from a Dockerfile, one :class:`BuildStep` at a time.

    ``dockerfile`` is the text, a path, or a parsed :class:`Dockerfile`; ``context`` the
    directory COPY and ADD read from. ``images`` maps names ``FROM`` may use to images
    (besides ``scratch`` and the built-in ``layerlab/tiny``, ``layerlab/alpine-like``,
    ``layerlab/debian-like``). Pass one :class:`BuildCache` to several builds to share
    it; ``no_cache=True`` ignores it (results are still stored).
    ``source_date_epoch`` (seconds) fixes history timestamps and file mtimes, like
    ``SOURCE_DATE_EPOCH``; by default they are fixed anyway, so builds are reproducible.
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
    ) -> None:
        self.dockerfile = _load(dockerfile, context)
        #: run RUN steps as real processes (layerlab.realmode), falling back when impossible
        self.real = real
        self.context = BuildContext(context) if context is not None else None
        self.images = dict(images or {})
        self.build_args = dict(build_args or {})
        self.cache = cache if cache is not None else BuildCache()
        self.no_cache = no_cache
        self.source_date_epoch = source_date_epoch
        self.results: list[BuildStep] = []
        self.image: Image | None = None
        self.warnings: list[str] = []

    def __repr__(self) -> str:
        n = len(self.dockerfile.instructions)
        return f"<Builder: {n} instructions, {len(self.results)} done, {self.cache!r}>"

    # --- driving ---------------------------------------------------------------------------
    def steps(self) -> Iterator[BuildStep]:
        """Run the build, yielding each step as it finishes (a fresh build each call)."""
        self.results = []
        self.image = None
        self.warnings = []
        state = _State(Image.scratch())
        total = len(self.dockerfile.instructions)
        for index, ins in enumerate(self.dockerfile.instructions, start=1):
            try:
                step = self._step(state, index, total, ins)
            except (BuildError, DockerfileError):
                raise
            except LayerlabError as exc:  # a container or path error: name the step
                raise BuildError(str(exc), step=index, line=ins.line,
                                 instruction=ins.text) from exc
            self.results.append(step)
            yield step
        self.image = state.image
        unused = sorted(set(self.build_args) - state.declared)
        if unused:
            self.warnings.append(f"build args not consumed by any ARG: {', '.join(unused)}")

    def run(self, on_step: Callable[[BuildStep], None] | None = None) -> Image:
        """Run every step (calling ``on_step`` after each) and return the image."""
        for step in self.steps():
            if on_step is not None:
                on_step(step)
        assert self.image is not None
        return self.image

    # --- one step ----------------------------------------------------------------------
    def _step(self, state: _State, index: int, total: int, ins: Instruction) -> BuildStep:
        def done(text: str, cache: str, why: str, created_by: str = "",
                 layer: Layer | None = None) -> BuildStep:
            return BuildStep(index, total, ins, text, cache, why, created_by, layer,
                             state.image)

        k = ins.keyword
        if k == "ARG" and not state.started:
            for name, value in self._arg_values(state, ins):
                if value is not None:
                    state.global_args[name] = value
            return done(ins.text, "none", "ARG before FROM: only FROM can use it")
        if k == "FROM":
            state.image, why = self._from(state, ins)
            state.started = True
            return done(f"FROM {ins.args}", "none", why)
        text, created_by, sources, work = self._plan(state, ins, index)
        parent = state.image
        key_text = text if k in ("COPY", "ADD") else created_by.removeprefix(_NOP).strip()
        key = step_key(parent.id, key_text, {s: c for s, c in sources.items()})
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
        changes = _changes(parent, layer) if layer is not None else ()
        return BuildStep(index, total, ins, text, cache, why, created_by, layer, image,
                         changes, output, key)

    def _arg_values(self, state: _State, ins: Instruction) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for word in ins.args.split():
            name, eq, default = word.partition("=")
            state.declared.add(name)
            value: str | None = expand(default, state.env(), self.dockerfile.escape) \
                if eq else state.global_args.get(name)
            out.append((name, self.build_args.get(name, value)))
        return out

    def _from(self, state: _State, ins: Instruction) -> tuple[Image, str]:
        name = expand(ins.args.split()[0], state.global_args, self.dockerfile.escape)
        if name == "scratch":
            return Image.scratch(), "scratch: the empty image, no layers"
        for candidate in (name, name.removesuffix(":latest"), f"{name}:latest"):
            if candidate in self.images:
                image = self.images[candidate]
                return image, f"base image {name!r} from images=: {len(image.layers)} layers"
        if is_base_image(name):
            image = base_image(name)
            return image, (f"built-in teaching base {name!r}: {len(image.layers)} layer, "
                           f"id {short(image.id)}")
        known = ", ".join(["scratch", *self.images, *BASE_IMAGES])
        raise BuildError(f"base image {name!r} not found (available: {known}; pass "
                         "images={name: image} to use another)", step=1, line=ins.line,
                         instruction=ins.text)

    def _plan(
        self, state: _State, ins: Instruction, index: int
    ) -> tuple[str, str, dict[str, str], Callable[[], tuple[Image, Layer | None, str]]]:
        """(text after substitution, created_by, source checksums, the work to do)."""
        k, esc, env, image = ins.keyword, self.dockerfile.escape, state.env(), state.image
        cfg = image.config

        def meta(text: str, nop: str = " ", config: dict[str, object] | None = None) -> tuple[
                str, str, dict[str, str], Callable[[], tuple[Image, Layer | None, str]]]:
            created_by = f"{_NOP}{nop}{text}"

            def work() -> tuple[Image, Layer | None, str]:
                changed = image.with_config(**config) if config else image
                return self._record(changed, None, created_by), None, ""
            return text, created_by, {}, work

        if k == "ARG":
            values = self._arg_values(state, ins)
            state.args.update({n: v for n, v in values if v is not None})
            return meta(f"ARG {ins.args}")
        if k in ("ENV", "LABEL"):
            pairs = [(expand(n, env, esc), expand(v, env, esc)) for n, v in split_pairs(ins, esc)]
            text = f"{k} " + " ".join(f"{n}={v}" for n, v in pairs)
            if k == "ENV":
                merged = {**cfg.env_dict(), **dict(pairs)}
                return meta(text, config={"env": [f"{n}={v}" for n, v in merged.items()]})
            return meta(text, config={"labels": {**dict(cfg.labels), **dict(pairs)}})
        if k == "EXPOSE":
            ports = [p for w in expand_words(ins.args, env, esc) for p in _ports(ins, w)]
            return meta("EXPOSE " + " ".join(ports),
                        config={"exposed_ports": sorted({*cfg.exposed_ports, *ports})})
        if k == "USER":
            user = expand(ins.args, env, esc)
            return meta(f"USER {user}", config={"user": user})
        if k in ("CMD", "ENTRYPOINT"):
            argv = list(ins.json) if ins.json is not None else ["/bin/sh", "-c", ins.args]
            shown = "[" + " ".join(_go_quote(a) for a in argv) + "]"
            if k == "CMD":
                state.cmd_set = True
                return meta(f"CMD {shown}", config={"cmd": argv})
            extra: dict[str, object] = {} if state.cmd_set else {"cmd": None}
            return meta(f"ENTRYPOINT {shown}", config={"entrypoint": argv, **extra})
        if k == "WORKDIR":
            path = _in_workdir(cfg.workdir, expand(ins.args, env, esc))
            text = f"WORKDIR {path}"
            if _is_dir(image, path):
                return meta(text, nop="", config={"workdir": path})
            created_by = f"{_NOP}{text}"

            def mkdir() -> tuple[Image, Layer | None, str]:
                c = self._container(image, index)
                c.mkdir(path, parents=True)
                return self._commit(c, created_by, workdir=path), None, ""
            return text, created_by, {}, self._layered(mkdir)
        if k == "RUN":
            return self._plan_run(state, ins, index)
        return self._plan_copy(state, ins, index)

    def _plan_run(self, state: _State, ins: Instruction, index: int) -> tuple[
            str, str, dict[str, str], Callable[[], tuple[Image, Layer | None, str]]]:
        image = state.image
        command = shlex.join(ins.json) if ins.json is not None else ins.args
        shown = " ".join(ins.json) if ins.json is not None else f"/bin/sh -c {ins.args}"
        args = sorted(state.args.items())
        prefix = f"|{len(args)} " + "".join(f"{n}={v} " for n, v in args) if args else ""
        created_by = prefix + shown

        def work() -> tuple[Image, Layer | None, str]:
            c = self._container(image, index)
            c.env = {**c.env, **{n: v for n, v in args if n not in image.config.env_dict()}}
            result = c.run_command(command, real=self.real)
            if result.exit_code != 0:
                raise BuildError(
                    f"The command '{shown}' returned a non-zero code: {result.exit_code}"
                    + (f": {result.stderr.strip()}" if result.stderr.strip() else ""),
                    step=index, line=ins.line, instruction=ins.text, command=command,
                    exit_code=result.exit_code, stderr=result.stderr)
            return self._commit(c, created_by), None, result.stdout + result.stderr
        return f"RUN {ins.args}" if ins.json is None else ins.text, created_by, {}, \
            self._layered(work)

    def _plan_copy(self, state: _State, ins: Instruction, index: int) -> tuple[
            str, str, dict[str, str], Callable[[], tuple[Image, Layer | None, str]]]:
        k, esc, env, image = ins.keyword, self.dockerfile.escape, state.env(), state.image
        words = [expand(w, env, esc) for w in ins.json] if ins.json is not None \
            else expand_words(ins.args, env, esc)
        flags = {n: expand(v, env, esc) for n, v in ins.flags}
        *srcs, dest = words
        text = " ".join([k, *(f"--{n}={v}" for n, v in flags.items()), *words])
        if self.context is None:
            raise BuildError(f"{k} needs a build context: pass context=<directory>",
                             step=index, line=ins.line, instruction=ins.text)
        if any(s.startswith(("http://", "https://", "git@")) for s in srcs):
            raise BuildError(f"{k} from a URL is not supported (layerlab builds offline)",
                             step=index, line=ins.line, instruction=ins.text)
        try:
            sources = [s for src in srcs for s in self.context.collect(src)]
        except BuildError as exc:
            raise type(exc)(exc.problem, step=index, line=ins.line,
                            instruction=ins.text) from None
        checksums = {i.rel or ".": i.checksum for s in sources for i in s.items}
        target = _in_workdir(image.config.workdir, dest)
        into_dir = dest.endswith("/") or len(sources) > 1 or _is_dir(image, target)
        if len(sources) > 1 and not dest.endswith("/"):
            raise BuildError(f"when using {k} with more than one source file, the destination "
                             "must be a directory and end with a /", step=index,
                             line=ins.line, instruction=ins.text)
        created_by = f"{_NOP}{k} {summary_digest(sources)} in {dest} "
        owner = flags.get("chown")
        mode = int(flags["chmod"], 8) if "chmod" in flags else None

        def work() -> tuple[Image, Layer | None, str]:
            c = self._container(image, index)
            ids = _owner(image, owner, ins) if owner else None
            for source in sources:
                _copy_source(c, source, target, into_dir, ids, mode,
                             unpack=k == "ADD")
            return self._commit(c, created_by), None, ""
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

    def _record(self, image: Image, layer: Layer | None, created_by: str) -> Image:
        entry = HistoryEntry(created_by=created_by, created=self._created(),
                             empty_layer=layer is None)
        layers = image.layers if layer is None else (*image.layers, layer)
        return Image(layers, config=image.config, history=(*image.history, entry),
                     architecture=image.architecture, os=image.os, created=self._created())

    def _commit(self, c: Container, created_by: str, **config: object) -> Image:
        layer = c.rw.to_layer(created_by=created_by)
        base = c.image.with_config(**config) if config else c.image
        return self._record(base, layer, created_by)

    @staticmethod
    def _layered(
        work: Callable[[], tuple[Image, Layer | None, str]],
    ) -> Callable[[], tuple[Image, Layer | None, str]]:
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
    **options: object,
) -> Image:
    """Build in one call and return the image (``docker build`` without the daemon).

    ``on_step`` is called with each :class:`BuildStep`; for the list afterwards use
    ``Builder(...).run()`` and ``builder.results``. Other keywords go to :class:`Builder`.

    >>> img = build("FROM layerlab/tiny\\nCMD [\\"echo\\", \\"hi\\"]\\n")
    >>> img.config.cmd, img.history[-1].created_by
    (('echo', 'hi'), '/bin/sh -c #(nop)  CMD ["echo" "hi"]')
    """
    return Builder(dockerfile, context, **options).run(on_step)  # type: ignore[arg-type]


# --- small pure helpers ----------------------------------------------------------------

def _load(dockerfile: str | os.PathLike[str] | Dockerfile | None,
          context: str | os.PathLike[str] | None) -> Dockerfile:
    if isinstance(dockerfile, Dockerfile):
        return dockerfile
    if dockerfile is None:
        if context is None:
            raise BuildError("give a Dockerfile (text or path) or a context with a Dockerfile")
        dockerfile = os.path.join(os.fspath(context), "Dockerfile")
    if isinstance(dockerfile, os.PathLike) or ("\n" not in dockerfile
                                               and os.path.isfile(dockerfile)):
        return Dockerfile.from_path(dockerfile)
    return parse_dockerfile(dockerfile)


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


def _owner(image: Image, spec: str, ins: Instruction) -> tuple[int, int]:
    """``--chown=user[:group]`` to numbers, names looked up in the image's passwd/group."""
    user, _, group = spec.partition(":")

    def lookup(name: str, table: str) -> int:
        if name.isdigit():
            return int(name)
        try:
            text = image.view().read_text(table) if image.layers else ""
        except LayerlabError:
            text = ""
        for row in text.splitlines():
            fields = row.split(":")
            if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
                return int(fields[2])
        raise BuildError(f"--chown={spec}: no {name!r} in {table} of the image",
                         line=ins.line, instruction=ins.text)

    uid = lookup(user, "/etc/passwd")
    return uid, lookup(group, "/etc/group") if group else uid


def _copy_source(c: Container, source: Source, target: str,
                 into_dir: bool, ids: tuple[int, int] | None, mode: int | None,
                 *, unpack: bool) -> None:
    top = source.items[0]
    if source.is_dir:
        _mkdirs(c, target, ids)
        for item in source.items[1:]:
            _put(c, join(target, item.sub), item, ids, mode)
        return
    dest = join(target, top.rel.rsplit("/", 1)[-1]) if into_dir else target
    if unpack and top.kind == "file" and _is_archive(top.data):
        _mkdirs(c, target, ids)
        _unpack(c, top, target, ids)
        return
    _mkdirs(c, dest.rsplit("/", 1)[0] or ROOT, None)
    _put(c, dest, top, ids, mode)


def _mkdirs(c: Container, path: str, ids: tuple[int, int] | None) -> None:
    missing = [p for p in (*ancestors(path), path) if p != ROOT and not c.exists(p)]
    if path != ROOT:
        c.mkdir(path, parents=True)
    for p in missing:
        if ids is not None:
            c.chown(p, *ids)


def _put(c: Container, path: str, item: ContextItem, ids: tuple[int, int] | None,
         mode: int | None) -> None:
    if c.exists(path) and item.kind != "dir":
        existing = c.stat(path)
        if existing.is_dir:
            raise BuildError(f"cannot copy {item.rel!r} over the directory {path!r}")
        c.remove(path)
    if item.kind == "dir":
        if not c.exists(path):
            c.mkdir(path)
        c.chmod(path, item.mode if mode is None else mode)
    elif item.kind == "symlink":
        c.symlink(item.linkname, path)
        return
    else:
        c.write(path, item.data, mode=item.mode if mode is None else mode)
    if ids is not None:
        c.chown(path, *ids)


def _is_archive(data: bytes) -> bool:
    try:
        kind = detect_compression(data[:8])
    except LayerlabError:
        return False  # bzip2 or xz: Docker unpacks them, layerlab copies them as files
    return kind != "none" or data[257:262] == b"ustar"


def _unpack(c: Container, item: ContextItem, target: str,
            ids: tuple[int, int] | None) -> None:
    """ADD of a local tar archive: its entries land below ``target`` (owners kept)."""
    import io

    archive = Layer.from_tar(io.BytesIO(item.data))
    # stream order, as tar extracts: a hardlink comes after its target ('/a' -> '/b/f')
    for entry in sorted(archive.content_entries, key=archive.stream_position):
        try:
            _unpack_entry(c, archive, entry, target, ids)
        except PathLookupError as exc:  # name the archive entry, not only the container path
            raise type(exc)(f"{item.rel}: entry {entry.path!r}: {exc}") from exc


def _unpack_entry(c: Container, archive: Layer, entry: Entry, target: str,
                  ids: tuple[int, int] | None) -> None:
    if entry.path == ROOT:
        return
    path = join(target, entry.path.lstrip("/")) if target != ROOT else entry.path
    uid, gid = ids if ids is not None else (entry.uid, entry.gid)
    parent = path.rsplit("/", 1)[0] or ROOT
    if not c.exists(parent):
        c.mkdir(parent, parents=True)
    if entry.kind is EntryKind.DIR:
        if c.exists(path) and not c.stat(path).is_dir:
            c.remove(path)  # a symlink there is replaced, as tar does: chmod would follow it
        if not c.exists(path):
            c.mkdir(path, parents=True)
        c.chmod(path, entry.mode)
    elif entry.kind is EntryKind.FILE:
        if c.exists(path):
            c.remove(path, recursive=True)
        c.write(path, archive.read_content(entry), mode=entry.mode)
    elif entry.kind is EntryKind.SYMLINK:
        if c.exists(path):
            c.remove(path, recursive=True)
        c.symlink(entry.linkname, path)
        return
    elif entry.kind is EntryKind.HARDLINK:
        c.hardlink(join(target, entry.linkname.lstrip("/")) if target != ROOT
                   else entry.linkname, path)
        return
    else:
        return  # devices and fifos: a container here cannot make them
    if (uid, gid) != (0, 0):
        c.chown(path, uid, gid)


def _changes(parent: Image, layer: Layer) -> tuple[Change, ...]:
    """What ``layer`` does to ``parent``'s filesystem, like ``docker diff``."""
    below = parent.view() if parent.layers else None

    def existed(path: str) -> bool:
        hidden = any(a in layer.opaques for a in (ROOT, *ancestors(path)))
        return below is not None and not hidden and below.exists(path)

    out = [Change("C" if existed(e.path) else "A", e.path)
           for e in layer.content_entries if e.path != ROOT]
    out += [Change("D", p) for p in layer.whiteouts]
    if below is not None:
        for d in layer.opaques:
            if below.exists(d) and below.stat(d).is_dir:
                out += [Change("D", join(d, n)) for n in below.listdir(d)
                        if layer.get(join(d, n)) is None]
    return tuple(sorted(out, key=lambda ch: ch.path))

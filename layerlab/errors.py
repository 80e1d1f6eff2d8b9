"""The layerlab exception tree.

Every error layerlab raises on purpose derives from :class:`LayerlabError`, so
``except LayerlabError`` catches all of them and nothing else. Messages say what
went wrong and where: the layer, the entry and the rule that was broken, for
example ``layer 3 (sha256:ab12cd34ef56): entry '../etc/passwd': path escapes the root``.

Every class of the tree is defined here, once; the modules that raise them import them
from here and re-export the ones they always had (``layerlab.store.StoreError``,
``layerlab.realmode.RealModeError``, ``layerlab.shell.lexer.ShellSyntaxError`` ... are the
same objects as ``layerlab.errors.StoreError`` ...).

::

    LayerlabError
    ├── FilesystemError          a file operation on a view or a container failed: what a
    │   │                        program in the container sees as an errno (sh prints it)
    │   ├── UnsafePathError      a name escapes the root, or changes the root's type
    │   │   └── ContextEscapeError COPY/ADD named a path outside the build context
    │   │                        (also a BuildError)
    │   └── PathLookupError      a lookup or file operation failed
    │       ├── PathNotFoundError    (also a FileNotFoundError)
    │       ├── PathExistsError      (also a FileExistsError)
    │       ├── NotADirectoryError_  (also a NotADirectoryError)
    │       ├── IsADirectoryError_   (also an IsADirectoryError)
    │       └── DirectoryNotEmptyError (also an OSError)
    ├── MalformedWhiteoutError   '.wh.', '.wh..', '.wh...' and friends
    ├── InvalidLayerError        a layer stream that cannot be read as a tar
    │   ├── TruncatedError       the stream ended early
    │   └── UnsupportedEntryError an entry type layerlab does not know
    ├── DigestMismatchError      bytes do not hash (or measure) to what was promised
    ├── LimitExceededError       a resource cap was hit (names the cap and how to raise it)
    │   └── BuildLimitExceededError a build step hit a cap (also a BuildError)
    ├── BrokenHardlinkError      a hardlink whose target is missing or a directory
    ├── InvalidImageError        an image that is inconsistent (config, history, layers)
    ├── ContainerStateError      an operation the container's state forbids (exec when stopped)
    ├── DockerfileError          a Dockerfile line that cannot be read (line number and text)
    ├── BuildError               a build step failed (step, instruction, why)
    │   ├── ContextEscapeError   (see FilesystemError)
    │   └── BuildLimitExceededError (see LimitExceededError)
    ├── InvalidDigestError       a digest string that is not ``sha256:<64 lowercase hex>``
    ├── BlobNotFoundError        a content store has no blob with that digest
    ├── InvalidReferenceError    an image reference Docker would not accept
    ├── RegistryError            a registry request failed (names the reference and the cause)
    │   ├── RegistryAuthError    401/403: credentials missing, wrong or not allowed
    │   ├── RegistryNotFoundError 404: no such repository, tag or blob
    │   ├── RateLimitedError     429: says when to retry and how to use a mirror
    │   └── RegistryUnavailableError TLS, DNS or connection failure (offline)
    ├── StoreError               a store operation that cannot be done (unknown image, name
    │   │                        in use, image in use, mount failed)
    │   ├── StoreFullError       the disk under the store is full; nothing was recorded
    │   └── MetadataError        a containerd-layout metadata database cannot be read
    ├── RealModeUnavailable      this machine or image cannot run real mode (says why)
    ├── RealModeError            real-mode setup failed before the command started
    └── ShellError               the simulated shell refused a script or a command line;
        │                        never leaves the shell: sh's message and exit status
        ├── ShellSyntaxError     malformed input (exit status 2)
        ├── ShellUnsupportedError valid sh the small shell does not implement (exit status 2)
        ├── ExpansionError       ``${VAR:?msg}``, ``set -u``: the command is not run
        ├── UsageError           bad options or operands of a command (its message and status)
        └── RedirectError        a redirection cannot open its file (the command is not run)

Which to catch. ``except LayerlabError`` is "anything layerlab refused". Code that runs a
program's file operations (the simulated shell's commands, redirections, globbing, ``cd``,
``test -e``) catches :class:`FilesystemError`: a missing file or a refused name becomes sh's
message and exit status, while a :class:`ContainerStateError` (the container was stopped or
removed under the command), a :class:`ShellError` or a broken image keeps going up.

Not in the tree, on purpose:

* ``layerlab.shell.interp.ShellExit`` is the ``exit`` builtin (and ``set -e``) unwinding the
  interpreter, as :class:`SystemExit` unwinds Python: control flow, not an error, so an
  ``except LayerlabError`` must not stop it. It never leaves :class:`~layerlab.shell.Shell`.
* ``layerlab._sandbox.SetupError`` lives in the real-mode launcher, a separate program that
  imports only the standard library; it never crosses the process boundary (the launcher
  prints it and exits 127, which :mod:`layerlab.realmode` reports as :class:`RealModeError`).
* ``layerlab.widgets.playground._NotRunning`` is a widget's private signal to itself.
* ``layerlab._codecs.GzipError`` is the gzip reader's own error, as :class:`zlib.error` is
  zlib's: the tar reader catches it and raises :class:`InvalidLayerError` naming the layer.

>>> issubclass(PathNotFoundError, FilesystemError) and issubclass(PathNotFoundError, OSError)
True
>>> issubclass(ContainerStateError, FilesystemError)
False
"""

from __future__ import annotations

__all__ = [
    "BlobNotFoundError",
    "BrokenHardlinkError",
    "BuildError",
    "BuildLimitExceededError",
    "ContainerStateError",
    "ContextEscapeError",
    "DigestMismatchError",
    "DirectoryNotEmptyError",
    "DockerfileError",
    "ExpansionError",
    "FilesystemError",
    "InvalidDigestError",
    "InvalidImageError",
    "InvalidLayerError",
    "InvalidReferenceError",
    "IsADirectoryError_",
    "LayerlabError",
    "LimitExceededError",
    "MalformedWhiteoutError",
    "MetadataError",
    "NotADirectoryError_",
    "PathExistsError",
    "PathLookupError",
    "PathNotFoundError",
    "RateLimitedError",
    "RealModeError",
    "RealModeUnavailable",
    "RedirectError",
    "RegistryAuthError",
    "RegistryError",
    "RegistryNotFoundError",
    "RegistryUnavailableError",
    "ShellError",
    "ShellSyntaxError",
    "ShellUnsupportedError",
    "StoreError",
    "StoreFullError",
    "TruncatedError",
    "UnsafePathError",
    "UnsupportedEntryError",
    "UsageError",
]


class LayerlabError(Exception):
    """Base class of every error layerlab raises on purpose."""


class FilesystemError(LayerlabError):
    """A file operation on a view or a container failed, as a system call fails with an errno.

    The simulated shell catches this (and only this) around a program's file operations, so
    ``cat /missing`` prints ``cat: No such file or directory`` and returns 1.

    >>> from layerlab import Image, Layer
    >>> c = Image.from_layers([Layer.from_dict({"/etc/motd": "hi"})]).create_container()
    >>> try:
    ...     c.read("/missing")
    ... except FilesystemError as e:
    ...     type(e).__name__
    'PathNotFoundError'
    """


class UnsafePathError(FilesystemError):
    """A name would land outside the root, or would change what the root is."""


class MalformedWhiteoutError(LayerlabError):
    """A whiteout name that names nothing (``.wh.``, ``.wh..``, ``.wh...``)."""


class InvalidLayerError(LayerlabError):
    """A layer stream that is not a readable tar archive."""


class TruncatedError(InvalidLayerError):
    """The stream ended before the archive did."""


class UnsupportedEntryError(InvalidLayerError):
    """A tar entry type layerlab does not model (for example a sparse file)."""


class DigestMismatchError(LayerlabError):
    """Bytes whose size or sha256 differ from what their descriptor promised."""


class LimitExceededError(LayerlabError):
    """A resource cap was hit; the message names the cap and how to raise it."""


class BrokenHardlinkError(LayerlabError):
    """A hardlink whose target does not exist below it, or is a directory."""


class InvalidImageError(LayerlabError):
    """An image whose parts do not fit together (config, history, diff_ids)."""


class PathLookupError(FilesystemError):
    """A lookup in a merged view failed."""


class PathNotFoundError(PathLookupError, FileNotFoundError):
    """The path does not exist in the view."""


class NotADirectoryError_(PathLookupError, NotADirectoryError):
    """A directory operation on something that is not a directory."""


class IsADirectoryError_(PathLookupError, IsADirectoryError):
    """A file operation on a directory."""


class PathExistsError(PathLookupError, FileExistsError):
    """Something is already at the path."""


class DirectoryNotEmptyError(PathLookupError):
    """A directory that must be empty is not (use ``recursive=True``)."""


class ContainerStateError(LayerlabError):
    """An operation the container's lifecycle state forbids."""


class DockerfileError(LayerlabError):
    """An unsupported or malformed instruction; says which line and what it read.

    >>> str(DockerfileError("unknown instruction 'BOGUS'", line=3, text="BOGUS x"))
    "Dockerfile line 3: 'BOGUS x': unknown instruction 'BOGUS'"
    """

    def __init__(self, problem: str, *, line: int = 0, text: str = "") -> None:
        self.problem = problem
        self.line = line
        self.text = text
        where = f"Dockerfile line {line}: " if line else "Dockerfile: "
        quoted = f"{text!r}: " if text else ""
        super().__init__(f"{where}{quoted}{problem}")


class BuildError(LayerlabError):
    """A build step failed. For a failing RUN: ``command``, ``exit_code`` and ``stderr``."""

    def __init__(
        self,
        problem: str,
        *,
        step: int = 0,
        line: int = 0,
        instruction: str = "",
        command: str = "",
        exit_code: int | None = None,
        stderr: str = "",
    ) -> None:
        self.problem = problem
        self.step = step
        self.line = line
        self.instruction = instruction
        self.command = command
        self.exit_code = exit_code
        self.stderr = stderr
        where = f"step {step} (line {line}) {instruction!r}: " if instruction else ""
        super().__init__(f"{where}{problem}")


class ContextEscapeError(BuildError, UnsafePathError):
    """COPY or ADD named something outside the build context (``../x``, or a symlink
    in the context that points outside it). Docker says "forbidden path outside the
    build context"."""


class BuildLimitExceededError(BuildError, LimitExceededError):
    """A step hit a resource cap (an ``ADD`` decompression bomb, ``ENV`` doubling): a
    :class:`BuildError` naming the step and line, and a :class:`LimitExceededError`
    naming the cap; the engine's own error is its ``__cause__``."""


class InvalidDigestError(LayerlabError, ValueError):
    """A digest that is not ``sha256:`` and 64 lowercase hex digits (so never a path)."""


class BlobNotFoundError(LayerlabError):
    """A content store has no blob with the digest asked for."""


class InvalidReferenceError(LayerlabError, ValueError):
    """An image reference Docker would refuse ("invalid reference format")."""


class RegistryError(LayerlabError):
    """A registry request failed; the message names the reference and the cause."""


class RegistryAuthError(RegistryError):
    """401 or 403: the registry wants credentials, or refuses the ones given."""


class RegistryNotFoundError(RegistryError):
    """404: no such repository, tag, manifest or blob."""


class RateLimitedError(RegistryError):
    """429: too many requests. ``retry_after`` is the server's advice in seconds (or None)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class RegistryUnavailableError(RegistryError):
    """The registry cannot be reached: DNS, TLS or connection failure (for example offline)."""


class StoreError(LayerlabError):
    """A store operation that cannot be done (unknown image, name in use, image in use)."""


class StoreFullError(StoreError):
    """The disk holding the store filled up (ENOSPC) or hit a quota; nothing was recorded."""


class MetadataError(StoreError):
    """A metadata database of the containerd layout cannot be read."""


class RealModeUnavailable(LayerlabError):
    """This machine (or this image) cannot run real mode; the message says why."""


class RealModeError(LayerlabError):
    """Setting up a real-mode run failed before the command started; nothing ran."""


class ShellError(LayerlabError):
    """The simulated shell refused a script or a command line.

    These never leave :class:`layerlab.shell.Shell`: each becomes the message and the exit
    status sh would give (2 for a syntax error, the command's own status for a usage error).
    """


class ShellSyntaxError(ShellError):
    """Malformed input (sh answers with exit status 2)."""


class ShellUnsupportedError(ShellError):
    """Valid sh that layerlab's small shell deliberately does not implement (exit status 2)."""


class ExpansionError(ShellError):
    """``${VAR:?message}`` or ``set -u`` on an unset variable: the command is not run."""


class UsageError(ShellError):
    """Bad options or operands: print ``message`` and return ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RedirectError(ShellError):
    """A redirection cannot be set up (``> /nodir/x``, ``< /missing``): sh prints the message
    and the command does not run; ``status`` is its exit status (2 unless said otherwise)."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status

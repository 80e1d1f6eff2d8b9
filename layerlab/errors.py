"""The layerlab exception tree.

Every error layerlab raises on purpose derives from :class:`LayerlabError`, so
``except LayerlabError`` catches all of them and nothing else. Messages say what
went wrong and where: the layer, the entry and the rule that was broken, for
example ``layer 3 (sha256:ab12cd34ef56): entry '../etc/passwd': path escapes the root``.

::

    LayerlabError
    ├── UnsafePathError          a name escapes the root, or changes the root's type
    ├── MalformedWhiteoutError   '.wh.', '.wh..', '.wh...' and friends
    ├── InvalidLayerError        a layer stream that cannot be read as a tar
    │   ├── TruncatedError       the stream ended early
    │   └── UnsupportedEntryError an entry type layerlab does not know
    ├── DigestMismatchError      bytes do not hash (or measure) to what was promised
    ├── LimitExceededError       a resource cap was hit (names the cap and how to raise it)
    ├── BrokenHardlinkError      a hardlink whose target is missing or a directory
    ├── InvalidImageError        an image that is inconsistent (config, history, layers)
    ├── ContainerStateError      an operation the container's state forbids (exec when stopped)
    ├── DockerfileError          a Dockerfile line that cannot be read (line number and text)
    ├── BuildError               a build step failed (step, instruction, why)
    │   └── ContextEscapeError   COPY/ADD named a path outside the build context
    │                            (also an UnsafePathError)
    ├── InvalidDigestError       a digest string that is not ``sha256:<64 lowercase hex>``
    ├── BlobNotFoundError        a content store has no blob with that digest
    ├── InvalidReferenceError    an image reference Docker would not accept
    ├── RegistryError            a registry request failed (names the reference and the cause)
    │   ├── RegistryAuthError    401/403: credentials missing, wrong or not allowed
    │   ├── RegistryNotFoundError 404: no such repository, tag or blob
    │   ├── RateLimitedError     429: says when to retry and how to use a mirror
    │   └── RegistryUnavailableError TLS, DNS or connection failure (offline)
    └── PathLookupError          a lookup or file operation failed
        ├── PathNotFoundError    (also a FileNotFoundError)
        ├── PathExistsError      (also a FileExistsError)
        ├── NotADirectoryError_  (also a NotADirectoryError)
        ├── IsADirectoryError_   (also an IsADirectoryError)
        └── DirectoryNotEmptyError (also an OSError)
"""

from __future__ import annotations

__all__ = [
    "BlobNotFoundError",
    "BrokenHardlinkError",
    "BuildError",
    "ContainerStateError",
    "ContextEscapeError",
    "DigestMismatchError",
    "DirectoryNotEmptyError",
    "DockerfileError",
    "InvalidDigestError",
    "InvalidImageError",
    "InvalidLayerError",
    "InvalidReferenceError",
    "IsADirectoryError_",
    "LayerlabError",
    "LimitExceededError",
    "MalformedWhiteoutError",
    "NotADirectoryError_",
    "PathExistsError",
    "PathLookupError",
    "PathNotFoundError",
    "RateLimitedError",
    "RegistryAuthError",
    "RegistryError",
    "RegistryNotFoundError",
    "RegistryUnavailableError",
    "TruncatedError",
    "UnsafePathError",
    "UnsupportedEntryError",
]


class LayerlabError(Exception):
    """Base class of every error layerlab raises on purpose."""


class UnsafePathError(LayerlabError):
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


class PathLookupError(LayerlabError):
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

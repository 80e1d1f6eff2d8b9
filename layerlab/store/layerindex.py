"""A verified layer's index, cached beside its blob: a second pull re-reads nothing.

Reading a pulled layer means inflating it, hashing every byte for the diff_id and
indexing every tar header: seconds for a big image, and the same answer every time for
the same blob. After a layer blob was read and verified (size, digest, diff_id), its
index is saved in the content store::

    <root>/layer-index/sha256/<blob hex>.json     the index (a checksum line, then JSON)
    <root>/blobs/sha256/<diff_id hex>             the uncompressed tar (for a compressed
                                                  blob; a plain blob is its own tar)

and :func:`load_layer_index` builds the same :class:`~layerlab.layer.Layer` from them
without reading the tar. The index is never trusted blindly: it is used only when its
checksum line matches its body, it names the blob asked for, the blob and the tar are
present with the sizes it records, the diff_id is the one the config expects and the
current :class:`~layerlab.limits.Limits` admit it. Anything else (missing, truncated,
edited, from another layerlab, a tar deleted by a garbage collection) is a miss: the layer
is read and verified in full and the index written again.

The blobs themselves are trusted as the content store trusts them: their names are the
sha256 of the bytes written, checked when they were written
(:meth:`~layerlab.store.content.ContentStore.verify` re-hashes them on demand). The
checksum line guards against corruption, not against someone who can write the cache
directory (they could as well replace the blobs).

>>> import tempfile, pathlib
>>> from layerlab import Layer
>>> cs = ContentStore(pathlib.Path(tempfile.mkdtemp()))
>>> blob = cs.write(Layer.from_dict({"etc/motd": "hi"}).blob())  # gzip
>>> with cs.open(blob) as f:
...     layer = Layer.from_tar(f)  # read and verified once
>>> save_layer_index(cs, blob, layer)
True
>>> again = load_layer_index(cs, blob, layer.compressed_size, layer.diff_id)
>>> again.read("/etc/motd"), again.diff_id == layer.diff_id
(b'hi', True)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from ..entry import Entry, EntryKind
from ..layer import Layer, TarIndex
from ..limits import DEFAULT_LIMITS, Limits
from ..paths import clean_member_name
from ..tarstream import SpooledStream
from .content import ContentStore, check_digest
from .durable import atomic_write

__all__ = ["INDEX_ENV", "INDEX_VERSION", "index_path", "load_layer_index", "save_layer_index"]

#: ``LAYERLAB_LAYER_INDEX=0`` saves no index (and no uncompressed copy of a compressed
#: layer, which doubles the cache's size on disk: the price of a second pull that reads
#: nothing); indexes already saved are still used
INDEX_ENV = "LAYERLAB_LAYER_INDEX"

#: bumped when the format changes; an index of another version is a miss
INDEX_VERSION = 1


def index_path(cs: ContentStore, blob_digest: str) -> str:
    """Where the index of ``blob_digest`` lives."""
    hexpart = check_digest(blob_digest)[len("sha256:"):]
    return os.path.join(cs.root, "layer-index", "sha256", hexpart + ".json")


def _entry_row(e: Entry) -> list[Any]:
    return [e.path, e.kind.value, e.mode, e.uid, e.gid, e.mtime, e.size, e.digest,
            e.linkname, e.devmajor, e.devminor, [[k, v.hex()] for k, v in e.xattrs]]


def _entry(row: list[Any]) -> Entry:
    """An :class:`Entry` from its row; ValueError for a row of the wrong shape or types."""
    (path, kind, mode, uid, gid, mtime, size, digest, linkname, devmajor, devminor,
     xattrs) = row
    ints = (mode, uid, gid, mtime, size, devmajor, devminor)
    if (not all(type(n) is int and n >= 0 for n in ints) or not isinstance(path, str)
            or not isinstance(linkname, str) or not (digest is None or isinstance(digest, str))
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in xattrs)):
        raise ValueError(f"layer index: a malformed entry row {row!r:.80}")
    return Entry(path, EntryKind(kind), mode=mode, uid=uid, gid=gid, mtime=mtime, size=size,
                 digest=digest, linkname=linkname, devmajor=devmajor, devminor=devminor,
                 xattrs=tuple((k, bytes.fromhex(v)) for k, v in xattrs))


def _copy_in(cs: ContentStore, stream: SpooledStream) -> None:
    """Store the layer's uncompressed tar as the blob ``diff_id``: the spool linked into
    place where it can be (same filesystem, Linux), else copied in the kernel. Not hashed
    again: ``stream.diff_id`` is the hash of exactly these bytes."""
    target = cs.root / "blobs" / "sha256" / stream.diff_id[len("sha256:"):]
    if target.is_file() and target.stat().st_size == stream.length:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.index-tmp-{os.getpid()}-{id(stream)}")
    try:
        if not stream.link_to(tmp):
            with open(tmp, "wb") as out:
                view = stream.range()
                copied = view.copy_to_fd(out.fileno())
                if copied != stream.length:
                    raise OSError(f"copied {copied} of {stream.length} bytes")
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _enabled() -> bool:
    return os.environ.get(INDEX_ENV, "1") != "0"


def spool_dir_for(cs: ContentStore) -> str | None:
    """Where a layer about to be indexed into ``cs`` should spool its uncompressed tar:
    inside the store (its ``ingest/`` directory), so :func:`save_layer_index` links the
    spool into place rather than copying it. ``None`` (the system's temporary directory)
    when the index is off or the directory cannot be made."""
    if not _enabled():
        return None
    directory = cs.root / "ingest"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return str(directory)


def save_layer_index(cs: ContentStore, blob_digest: str, layer: Layer) -> bool:
    """Record the index of ``layer``, read and verified from the blob ``blob_digest``.

    Returns whether it was saved (a layer not read from a tar, a full disk, or
    ``LAYERLAB_LAYER_INDEX=0`` is simply not cached: the cache is an optimisation, never a
    requirement).
    """
    if not _enabled():
        return False
    index = layer.tar_index()
    if index is None or layer.digest != blob_digest:
        return False
    stream = index.stream
    try:
        if stream.compression != "none":
            _copy_in(cs, stream)
        body = {
            "version": INDEX_VERSION,
            "blob": blob_digest,
            "blob_size": layer.compressed_size,
            "compression": stream.compression,
            "diff_id": stream.diff_id,
            "tar_size": stream.length,
            "entries": [_entry_row(e) for e in index.entries],
            "whiteouts": sorted(index.whiteouts),
            "opaques": sorted(index.opaques),
            "positions": index.positions,
            "ranges": index.ranges,
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        check = hashlib.sha256(text).hexdigest().encode()
        atomic_write(index_path(cs, blob_digest), b"sha256:" + check + b"\n" + text)
    except OSError:
        return False
    return True


def _read_doc(cs: ContentStore, blob_digest: str) -> dict[str, Any] | None:
    try:
        with open(index_path(cs, blob_digest), "rb") as f:
            raw = f.read()
    except OSError:
        return None
    head, sep, text = raw.partition(b"\n")
    if not sep or head != b"sha256:" + hashlib.sha256(text).hexdigest().encode():
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def load_layer_index(
    cs: ContentStore,
    blob_digest: str,
    blob_size: int,
    diff_id: str | None,
    *,
    history: Mapping[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Layer | None:
    """The layer of the blob ``blob_digest`` from its saved index, or ``None`` (a miss:
    read the blob) when there is no index or any check fails (see the module doc)."""
    if diff_id is None:
        return None
    doc = _read_doc(cs, blob_digest)
    if doc is None:
        return None
    try:
        if (doc.get("version") != INDEX_VERSION or doc.get("blob") != blob_digest
                or doc.get("blob_size") != blob_size or doc.get("diff_id") != diff_id):
            return None
        compression = doc["compression"]
        tar_size = doc["tar_size"]
        rows = doc["entries"]
        if (compression not in ("none", "gzip", "zstd") or not isinstance(tar_size, int)
                or tar_size > limits.max_layer_bytes or len(rows) > limits.max_entries):
            return None
        entries = [_entry(row) for row in rows]
        # names as a tar read would have cleaned them: an index cannot smuggle in '../x'
        max_path = limits.max_path_bytes
        if any(clean_member_name(e.path, where="layer index", max_bytes=max_path) != e.path
               or sum(len(k) + len(v) for k, v in e.xattrs) > limits.max_xattr_bytes
               for e in entries):
            return None
        ranges = {str(k): (int(v[0]), int(v[1])) for k, v in doc["ranges"].items()}
        positions = {str(k): int(v) for k, v in doc["positions"].items()}
        whiteouts = [str(p) for p in doc["whiteouts"]]
        opaques = [str(p) for p in doc["opaques"]]
        tar_digest = diff_id if compression != "none" else blob_digest
        if cs.size(blob_digest) != blob_size or cs.size(tar_digest) != tar_size:
            return None
        if any(off < 0 or size < 0 or off + size > tar_size for off, size in ranges.values()):
            return None
        if any(e.digest is not None and e.digest not in ranges for e in entries):
            return None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OSError):
        return None
    except Exception:  # a LayerlabError from a malformed entry (a bad path, say): a miss
        return None
    tar_file = cs.open(tar_digest)
    blob_file = cs.open(blob_digest) if compression != "none" else None
    spooled = SpooledStream(tar_file, tar_size, diff_id, compression, blob_digest, blob_size,
                            blob_file)
    hist = history or {}
    return Layer.from_tar_index(
        TarIndex(spooled, tuple(entries), frozenset(whiteouts), frozenset(opaques), positions,
                 ranges),
        created_by=str(hist.get("created_by", "")), comment=str(hist.get("comment", "")))

"""A streaming tar indexer: one pass over the bytes, headers parsed as they arrive.

Why not :mod:`tarfile`: indexing a layer must hash every byte (the diff_id) and every
file's content anyway, and ``tarfile`` reads the stream a second time, header by header,
at about 20 µs a member. This push parser is fed the uncompressed stream in chunks while
it is hashed and spooled, and makes the :class:`RawMember` records (the
:class:`~layerlab.entry.Entry`, where its data lies, its tar name) with file digests
already computed. It is the one place where tar headers become entries.

Two implementations, one answer. The C accelerator (``layerlab/_ctar.c``, built at
install where a compiler is present; :data:`ACCELERATED` tells) indexes runs of *plain*
members: ustar and GNU headers of files, directories, symlinks and hardlinks, every field
in its usual spelling, the content in the chunk. Any other header (PAX and GNU metadata,
devices, a non-ASCII or unclean name, an odd number, a bad checksum, a limit reached, a
cut) it leaves to the Python code below, which checks it and raises every error. On the
50,000-member stress layer that is 1.6-1.75x ``tar -tvf`` with the accelerator and
3.1-3.5x without (``python -m benchmarks --only index``). ``LAYERLAB_ACCEL=0`` forces the
Python path; ``tests/test_fasttar_accel.py`` feeds both the same damaged streams and
compares.

Where the Python path's time goes: per member, one ``struct.unpack_from`` on the chunk
in place (no copy of the header), the checksum from one ``zlib.adler32`` over the block,
numbers from a cache of their spellings, and a file whose content and padding are in the
chunk hashed in one ``hashlib`` call without entering the state machine; what is left is
the interpreter's cost of a few dozen bytecodes and three objects (Header, Entry,
RawMember) per member.

It understands what layer tars contain: ustar (with ``prefix``), GNU (long names and
link targets, base-256 numbers), PAX extended and global headers (``path``,
``linkpath``, ``size``, ``uid``, ``gid``, ``mtime``, ``SCHILY.xattr.*``,
``LIBARCHIVE.xattr.*``) and old V7 directories (a regular entry whose name ends in
``/``). Sparse files and other rare types are refused with
:class:`~layerlab.errors.UnsupportedEntryError`. Every header checksum is verified.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import NamedTuple

from .entry import Entry, EntryKind
from .errors import InvalidLayerError, LimitExceededError, TruncatedError, UnsupportedEntryError
from .limits import Limits
from .paths import clean_member_name

__all__ = ["ACCELERATED", "Header", "RawMember", "TarIndexer", "pure_python"]

_BLOCK = 512
_ZERO = bytes(_BLOCK)
_KINDS = {
    b"0": EntryKind.FILE, b"\0": EntryKind.FILE, b"7": EntryKind.FILE,
    b"1": EntryKind.HARDLINK, b"2": EntryKind.SYMLINK, b"3": EntryKind.CHAR,
    b"4": EntryKind.BLOCK, b"5": EntryKind.DIR, b"6": EntryKind.FIFO,
}
_META = (b"L", b"K", b"x", b"g")
_HEADER, _META_DATA, _FILE_DATA, _PADDING, _END = range(5)


_HEADER_STRUCT = struct.Struct("100s8s8s8s12s12s8s1s100s6s2s32s32s8s8s155s")


class Header(NamedTuple):
    """The numeric fields of a member (PAX overrides applied) and its link target."""

    mode: int
    uid: int
    gid: int
    mtime: int
    size: int
    devmajor: int
    devminor: int
    linkname: str


class RawMember(NamedTuple):
    """A tar member after its name was cleaned: the entry, where its data lies, its tar name.

    A named tuple: 50,000 of them are made per big layer, at a third of a dataclass's cost.
    """

    entry: Entry
    offset: int
    member_name: str


def _number(field: bytes) -> int:
    """A numeric header field: octal text, or GNU base-256 when the high bit is set."""
    if field and field[0] & 0x80:
        value = int.from_bytes(field, "big")
        return value - (1 << (8 * len(field))) if field[0] == 0xFF else value & ~(
            0x80 << (8 * (len(field) - 1)))
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


#: mode, uid and gid fields repeat across a layer: parse each spelling once
_SMALL: dict[bytes, int] = {}


def _small_number(field: bytes) -> int:
    value = _SMALL.get(field)
    if value is None:
        value = _number(field)
        if len(_SMALL) < 4096:
            _SMALL[field] = value
    return value


def _size_number(field: bytes) -> int:
    """:func:`_number` for a field that differs from member to member (the size): the
    usual spelling, octal digits ended by NULs, goes straight to ``int``."""
    try:
        return int(field.rstrip(b"\0") or b"0", 8)
    except ValueError:  # NUL inside, base-256, garbage: the general parser decides
        return _number(field)


def _checksum_ok(block: bytes | memoryview, stored: int, raw_sum: bytes) -> bool:
    """Does the header checksum match? The checksum is the unsigned byte sum of the block
    with its checksum field read as spaces. Adler-32's low half is the byte sum plus one,
    modulo 65521, computed in C over the whole block (5x faster than ``sum(block)``); the
    checksum field's own bytes (``raw_sum``) are taken out and eight spaces put in. As the
    sum of 512 bytes is at most 130,560, a stored value in that range that agrees modulo
    65521 is exact but for one chance in 65521 of a random corruption passing. Old tars
    summed signed bytes; that variant is checked the slow way."""
    adler_sum = (zlib.adler32(block) & 0xFFFF) - sum(raw_sum) + 256
    if 0 <= stored <= 130560 and adler_sum % 65521 == (1 + stored) % 65521:
        return True
    return stored == _signed_sum(bytes(block))


def _signed_sum(block: bytes) -> int:
    """The checksum some old tars computed with signed chars (tarfile accepts it too)."""
    values: tuple[int, ...] = struct.unpack("148b8x356b", block)
    return sum(values) + 256


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


#: what a header's numbers may be: ids as Linux holds them (2**32 - 1 is "no id"), times
#: that fit a ustar field and a nanosecond timestamp, device numbers of 32 bits
_MAX_ID = 2**32 - 2
_MAX_TIME = 8**11 - 1
_MAX_DEV = 2**32 - 1
_PAX_DECIMAL = re.compile(rb"-?[0-9]{1,30}(\.[0-9]{0,9})?")


def _pax_number(pax: dict[str, bytes], key: str, name: str, where: str) -> int:
    """A PAX numeric record: decimal digits (a fraction allowed for times), nothing else."""
    value = pax[key]
    if not _PAX_DECIMAL.fullmatch(value) or (b"." in value and key != "mtime"):
        shown = value[:40].decode("ascii", "replace")
        raise InvalidLayerError(
            f"{where}: entry {name!r}: PAX {key}={shown!r} is not a decimal number")
    return int(value.split(b".", 1)[0])


def _check_ranges(header: Header, size: int, name: str, where: str, limits: Limits) -> None:
    """Refuse numbers no file can have (they break chown, utime or the writer later)."""
    problems = []
    if size < 0:
        problems.append(f"negative size {size}")
    elif size > limits.max_layer_bytes:
        raise LimitExceededError(
            f"{where}: entry {name!r}: size {size} is more than max_layer_bytes="
            f"{limits.max_layer_bytes}; raise Limits.max_layer_bytes to accept it")
    for label, value in (("uid", header.uid), ("gid", header.gid)):
        if not 0 <= value <= _MAX_ID:
            problems.append(f"{label} {value} outside 0..{_MAX_ID}")
    if not -_MAX_TIME <= header.mtime <= _MAX_TIME:
        problems.append(f"mtime {header.mtime} outside +-{_MAX_TIME} (year 2242)")
    for label, value in (("devmajor", header.devmajor), ("devminor", header.devminor)):
        if not 0 <= value <= _MAX_DEV:
            problems.append(f"{label} {value} outside 0..{_MAX_DEV}")
    if problems:
        raise InvalidLayerError(f"{where}: entry {name!r}: {'; '.join(problems)}")


def _pax_records(data: bytes, where: str) -> dict[str, bytes]:
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space])
        except ValueError:
            length = 0
        if space < 0 or length <= 0 or pos + length > len(data) or data[pos + length - 1] != 10:
            if not data[pos:].strip(b"\0"):
                break
            raise InvalidLayerError(f"{where}: malformed PAX header record at offset {pos}")
        key, _, value = data[space + 1:pos + length - 1].partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return records


_ENTRY_FIELDS = ("path", "kind", "mode", "uid", "gid", "mtime", "size", "digest", "linkname",
                 "devmajor", "devminor", "xattrs")


def _fast_entry_maker() -> Callable[..., Entry]:
    """``Entry(...)`` with all twelve fields positional, at a third of the cost.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``
    (about 2 µs for an Entry, a third of indexing a small file); this fills the slots
    through their descriptors instead. It is used only while Entry is what it was written
    for (these fields in this order, slots, no ``__post_init__``); otherwise, and under
    ``LAYERLAB_FAST_ENTRY=0``, the class itself is called. tests/test_codecs.py checks
    both give equal entries.
    """
    import dataclasses

    names = tuple(f.name for f in dataclasses.fields(Entry))
    slots = getattr(Entry, "__slots__", ())
    if (names != _ENTRY_FIELDS or hasattr(Entry, "__post_init__") or set(slots) != set(names)
            or os.environ.get("LAYERLAB_FAST_ENTRY", "1") == "0"):
        return Entry
    (s_path, s_kind, s_mode, s_uid, s_gid, s_mtime, s_size, s_digest, s_link, s_major,
     s_minor, s_xattrs) = (Entry.__dict__[n].__set__ for n in names)
    new = object.__new__

    def make(path: str, kind: EntryKind, mode: int, uid: int, gid: int, mtime: int,
             size: int, digest: str | None, linkname: str, devmajor: int, devminor: int,
             xattrs: tuple[tuple[str, bytes], ...]) -> Entry:
        entry = new(Entry)
        s_path(entry, path)
        s_kind(entry, kind)
        s_mode(entry, mode)
        s_uid(entry, uid)
        s_gid(entry, gid)
        s_mtime(entry, mtime)
        s_size(entry, size)
        s_digest(entry, digest)
        s_link(entry, linkname)
        s_major(entry, devmajor)
        s_minor(entry, devminor)
        s_xattrs(entry, xattrs)
        return entry

    return make


_make_entry = _fast_entry_maker()


def _entry(name: str, kind: EntryKind, header: Header, pax: dict[str, bytes],
           digest: str | None, limits: Limits, where: str) -> Entry:
    path = clean_member_name(name, where=where, max_bytes=limits.max_path_bytes)
    linkname = header.linkname
    if kind is EntryKind.SYMLINK:
        if len(linkname.encode("utf-8", "surrogateescape")) > limits.max_path_bytes:
            raise LimitExceededError(
                f"{where}: entry {name!r}: link target longer than max_path_bytes="
                f"{limits.max_path_bytes}; raise Limits.max_path_bytes to accept it"
            )
    elif kind is EntryKind.HARDLINK:
        # Hardlink targets are root-relative: '/usr/bin/perl' means <root>/usr/bin/perl.
        linkname = clean_member_name(
            linkname, where=f"{where}: hardlink {name!r} ->", max_bytes=limits.max_path_bytes
        )
    return _make_entry(path, kind, header.mode, header.uid, header.gid, header.mtime,
                       header.size, digest, linkname, header.devmajor, header.devminor,
                       _xattrs(pax, name, limits, where) if pax else ())


def _xattrs(pax: dict[str, bytes], name: str, limits: Limits,
            where: str) -> tuple[tuple[str, bytes], ...]:
    out: dict[str, bytes] = {}
    for key, value in pax.items():
        if key.startswith("SCHILY.xattr."):
            out[key[len("SCHILY.xattr.") :]] = value
        elif key.startswith("LIBARCHIVE.xattr."):
            import base64
            from urllib.parse import unquote

            text = value.decode("ascii", "replace")
            out[unquote(key[len("LIBARCHIVE.xattr.") :])] = base64.b64decode(
                text + "=" * (-len(text) % 4))
    if sum(len(k) + len(v) for k, v in out.items()) > limits.max_xattr_bytes:
        raise LimitExceededError(
            f"{where}: entry {name!r}: xattrs larger than max_xattr_bytes="
            f"{limits.max_xattr_bytes}; raise Limits.max_xattr_bytes to accept it"
        )
    return tuple(sorted(out.items()))


def _accelerator() -> Callable[..., tuple[int, int]] | None:
    """``layerlab._ctar.scan``, configured, or ``None``: not built (no compiler where it was
    installed, Pyodide), switched off with ``LAYERLAB_ACCEL=0``, or Entry no longer the
    class the C code fills (the same test as :func:`_fast_entry_maker`)."""
    if os.environ.get("LAYERLAB_ACCEL", "1") == "0" or _make_entry is Entry:
        return None
    try:
        from ._ctar import configure, scan
    except ImportError:
        return None
    kinds = (EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK, EntryKind.HARDLINK)
    configure(Entry, RawMember, tuple(Entry.__dict__[n] for n in _ENTRY_FIELDS), kinds,
              hashlib.sha256)
    return scan


_scan = _accelerator()
#: is the C accelerator in use? (``python -m benchmarks`` reports it)
ACCELERATED = _scan is not None


@contextlib.contextmanager
def pure_python() -> Iterator[None]:
    """Index with the Python code alone inside this block, accelerator or not: for side by
    side comparisons (the benchmark's pure-Python row, the tests that run both paths).
    Not for use while another thread indexes."""
    global _scan
    saved, _scan = _scan, None
    try:
        yield
    finally:
        _scan = saved


#: the largest number the C code takes for a limit (it reads them as 64-bit integers)
_C_MAX = 2**63 - 1
#: a RawMember without going through a Python-level ``__new__``
_new_member = tuple.__new__


class TarIndexer:
    """Feed an uncompressed tar stream with :meth:`feed`, then call :meth:`close`;
    :attr:`members` then holds a :class:`RawMember` for every member, in stream order,
    its name cleaned (escapes refused) and its content digest computed.

    >>> import io, tarfile
    >>> out = io.BytesIO()
    >>> with tarfile.open(fileobj=out, mode="w") as tf:
    ...     tf.addfile(tarfile.TarInfo("etc/hostname"), io.BytesIO(b""))
    >>> indexer = TarIndexer(limits=Limits(), where="example")
    >>> indexer.feed(out.getvalue()); indexer.close()
    >>> [(m.entry.path, m.offset) for m in indexer.members]
    [('/etc/hostname', 512)]

    Where the C accelerator is built (:data:`ACCELERATED`), runs of plain members are
    indexed by it and every other member by the Python code below; the members are the
    same either way (``tests/test_fasttar.py`` runs both).
    """

    def __init__(self, *, limits: Limits, where: str) -> None:
        self.members: list[RawMember] = []
        self._limits = limits
        self._where = where
        self._scan_limits = (min(limits.max_entries, _C_MAX), min(limits.max_layer_bytes, _C_MAX),
                             min(limits.max_path_bytes, _C_MAX))
        self._rest = b""  # the unread end of the last chunk (less than one header)
        self._offset = 0  # stream offset of _rest[0]
        self._state = _HEADER
        self._remaining = 0
        self._padding = 0
        self._pending: tuple[str, EntryKind, Header, dict[str, bytes], int] | None
        self._pending = None
        self._hash: hashlib._Hash | None = None
        self._meta_type = b""
        self._meta = bytearray()
        self._longname: str | None = None
        self._longlink: str | None = None
        self._pax: dict[str, bytes] = {}
        self._global_pax: dict[str, bytes] = {}
        self.count = 0
        self.end: int | None = None

    # --- feeding ------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> None:
        if self._state == _END:
            return
        # the chunk is read in place (a memoryview for hashing, offsets for headers); only a
        # partial header or metadata record at its end is copied, to join the next chunk
        buf = self._rest + chunk if self._rest else bytes(chunk)
        view = memoryview(buf)
        i = 0
        n = len(buf)
        base = self._offset
        while i < n:
            state = self._state
            if state == _HEADER:
                if (_scan is not None and not self._pax and self._longname is None
                        and self._longlink is None and not self._global_pax):
                    # the C accelerator takes the plain members from here and stops at the
                    # first header it leaves to the code below (or at the end of buf)
                    max_entries, max_bytes, max_path = self._scan_limits
                    i, self.count = _scan(buf, i, base, self.count, max_entries, max_bytes,
                                          max_path, self.members)
                if n - i < _BLOCK:
                    break
                if buf[i] == 0 and buf.startswith(_ZERO, i):
                    self.end = base + i
                    self._state = _END
                    i += _BLOCK
                    break
                try:
                    i += self._parse_header(buf, view, i, base + i, n)
                except ValueError as exc:  # a numeric field that is not a number
                    self._bad_header(base + i, f"malformed header field ({exc})")
            elif state == _FILE_DATA:
                take = min(self._remaining, n - i)
                assert self._hash is not None
                self._hash.update(view[i:i + take])
                i += take
                self._remaining -= take
                if self._remaining == 0:
                    self._finish_file()
            elif state == _META_DATA:
                take = min(self._remaining, n - i)
                self._meta += view[i:i + take]
                i += take
                self._remaining -= take
                if self._remaining == 0:
                    self._finish_meta()
            else:  # _PADDING
                take = min(self._padding, n - i)
                i += take
                self._padding -= take
                if self._padding == 0:
                    self._state = _HEADER
        view.release()
        self._rest = buf[i:] if i < n and self._state != _END else b""
        self._offset = base + i

    def close(self) -> None:
        """Check that the stream ended where a tar archive may end."""
        where = self._where
        if self._state == _END:
            return
        length = self._offset + len(self._rest)
        if self._state == _HEADER and not self._rest:
            if self.count == 0 and length == 0:
                raise TruncatedError(f"{where}: empty stream (not even an end-of-archive marker)")
            raise TruncatedError(
                f"{where}: archive ends at byte {length} without an end-of-archive marker "
                f"(after {self.count} entries); the stream is truncated")
        if self._state == _HEADER:
            raise TruncatedError(
                f"{where}: the stream ends inside a header at byte {self._offset} "
                f"(after {self.count} entries); it is truncated")
        name = self._pending[0] if self._pending else "(a metadata header)"
        raise TruncatedError(
            f"{where}: entry {name!r}: content runs past the end of the stream "
            f"({length} bytes); it is truncated")

    # --- members ------------------------------------------------------------------------
    def _bad_header(self, offset: int, why: str) -> None:
        if self.count == 0 and not self._pax and self._longname is None:
            raise InvalidLayerError(f"{self._where}: not a tar archive ({why})")
        raise TruncatedError(
            f"{self._where}: unreadable header at byte {offset} after {self.count} entries "
            f"({why}); the stream is truncated or corrupt")

    def _parse_header(self, buf: bytes, view: memoryview, at: int, offset: int, n: int) -> int:
        """Parse the header at ``buf[at:]``; returns the bytes consumed: the header, or the
        whole member when its content and padding are in ``buf`` too (hashed right here,
        the common case for small files)."""
        where = self._where
        (raw_name, raw_mode, raw_uid, raw_gid, raw_size, raw_mtime, raw_sum, typeflag,
         raw_link, magic, _version, _uname, _gname, raw_major, raw_minor,
         raw_prefix) = _HEADER_STRUCT.unpack_from(buf, at)
        try:  # the usual spelling: six octal digits, a NUL and a space
            stored = int(raw_sum.replace(b"\0", b" "), 8)
        except ValueError:
            stored = _number(raw_sum) if raw_sum.strip(b"\0 ") else -1
        block = view[at:at + _BLOCK]
        if not (0 <= stored <= 130560 and ((zlib.adler32(block) & 0xFFFF) - sum(raw_sum) + 256)
                % 65521 == (1 + stored) % 65521) and not _checksum_ok(block, stored, raw_sum):
            self._bad_header(offset, "bad header checksum")  # (the fast test of _checksum_ok)
        size = _size_number(raw_size)
        if size < 0:
            raise InvalidLayerError(
                f"{where}: the header at byte {offset} has a negative size ({size}); a tar "
                "member's size is a count of bytes")
        if typeflag in _META:
            if size > self._limits.max_json_bytes:
                raise LimitExceededError(
                    f"{where}: a metadata header at byte {offset} is {size} bytes, more than "
                    f"max_json_bytes={self._limits.max_json_bytes}; raise Limits.max_json_bytes")
            self._meta_type = typeflag
            self._meta = bytearray()
            self._remaining = size
            self._padding = -size % _BLOCK
            self._state = _META_DATA if size else _PADDING
            if not size:
                self._finish_meta()
            return _BLOCK
        name = raw_name.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        if raw_prefix[0] and magic == b"ustar\0":
            name = _text(raw_prefix) + "/" + name
        pax = {**self._global_pax, **self._pax} if self._global_pax else self._pax
        if pax:
            if "path" in pax:
                name = pax["path"].decode("utf-8", "surrogateescape")
            if any(k.startswith("GNU.sparse.") for k in pax):
                raise UnsupportedEntryError(f"{where}: entry {name!r}: unsupported tar entry "
                                            "(PAX sparse file)")
        if self._longname is not None and "path" not in pax:
            name = self._longname
        kind = _KINDS.get(typeflag)
        if kind is None:
            what = "sparse file" if typeflag == b"S" else f"type {typeflag.decode('latin-1')!r}"
            raise UnsupportedEntryError(f"{where}: entry {name!r}: unsupported tar entry ({what})")
        if typeflag == b"\0" and name.endswith("/"):
            kind = EntryKind.DIR  # V7 tar spelled directories this way
        linkname = ""
        if kind is EntryKind.SYMLINK or kind is EntryKind.HARDLINK:
            linkname = _text(raw_link)
            if "linkpath" in pax:
                linkname = pax["linkpath"].decode("utf-8", "surrogateescape")
            elif self._longlink is not None:
                linkname = self._longlink
        if kind is EntryKind.DIR and len(name) > 1:
            name = name.rstrip("/") or "/"
        device = kind is EntryKind.CHAR or kind is EntryKind.BLOCK
        if pax:
            if "size" in pax:
                size = _pax_number(pax, "size", name, where)
            uid = _pax_number(pax, "uid", name, where) if "uid" in pax else _small_number(raw_uid)
            gid = _pax_number(pax, "gid", name, where) if "gid" in pax else _small_number(raw_gid)
            mtime = (_pax_number(pax, "mtime", name, where) if "mtime" in pax
                     else _small_number(raw_mtime))
        else:  # the cache lookups of _small_number, spelled out: four per entry
            small = _SMALL
            got = small.get(raw_uid)
            uid = _small_number(raw_uid) if got is None else got
            got = small.get(raw_gid)
            gid = _small_number(raw_gid) if got is None else got
            got = small.get(raw_mtime)
            mtime = _small_number(raw_mtime) if got is None else got
        got = _SMALL.get(raw_mode)
        header = Header(
            (_small_number(raw_mode) if got is None else got) & 0o7777, uid, gid, mtime,
            size if kind is EntryKind.FILE else 0,
            _number(raw_major) if device else 0,
            _number(raw_minor) if device else 0,
            linkname,
        )
        if (device or not 0 <= size <= self._limits.max_layer_bytes
                or not (0 <= uid <= _MAX_ID and 0 <= gid <= _MAX_ID)
                or not -_MAX_TIME <= mtime <= _MAX_TIME):
            _check_ranges(header, size, name, where, self._limits)
        if pax or self._longname is not None or self._longlink is not None:
            self._pax, self._longname, self._longlink = {}, None, None
        self.count += 1
        if self.count > self._limits.max_entries:
            raise LimitExceededError(
                f"{where}: more than max_entries={self._limits.max_entries} entries; "
                "raise Limits.max_entries to accept it")
        data_offset = offset + _BLOCK
        if kind is EntryKind.FILE:
            start = at + _BLOCK
            end = start + size
            padded = end + (-size % _BLOCK)
            if padded <= n:  # all of it is here: hash it in one call, no state to keep
                digest = hashlib.sha256(view[start:end]).hexdigest()
                self._emit(name, kind, header, pax, data_offset, "sha256:" + digest)
                return padded - at
            self._pending = (name, kind, header, pax, data_offset)
            self._hash = hashlib.sha256()
            self._remaining = size
            self._padding = -size % _BLOCK
            if size:
                self._state = _FILE_DATA
            else:
                self._finish_file()
        else:
            self._emit(name, kind, header, pax, data_offset, None)
        return _BLOCK

    def _emit(self, name: str, kind: EntryKind, header: Header, pax: dict[str, bytes],
              offset: int, digest: str | None) -> None:
        where, limits = self._where, self._limits
        if pax or kind is EntryKind.SYMLINK or kind is EntryKind.HARDLINK:
            entry = _entry(name, kind, header, pax, digest, limits, where)
        else:  # the common case, spelled out: no link target, no xattrs
            mode, uid, gid, mtime, size, devmajor, devminor, _link = header
            entry = _make_entry(
                clean_member_name(name, where=where, max_bytes=limits.max_path_bytes), kind,
                mode, uid, gid, mtime, size, digest, "", devmajor, devminor, ())
        self.members.append(_new_member(RawMember, (entry, offset, name)))

    def _finish_file(self) -> None:
        assert self._pending is not None and self._hash is not None
        name, kind, header, pax, offset = self._pending
        self._pending = None
        self._emit(name, kind, header, pax, offset, "sha256:" + self._hash.hexdigest())
        self._hash = None
        self._state = _PADDING if self._padding else _HEADER

    def _finish_meta(self) -> None:
        data = bytes(self._meta)
        kind = self._meta_type
        if kind == b"L":
            self._longname = _text(data)
        elif kind == b"K":
            self._longlink = _text(data)
        elif kind == b"x":
            self._pax = _pax_records(data, self._where)
        else:
            self._global_pax.update(_pax_records(data, self._where))
        self._state = _PADDING if self._padding else _HEADER

"""layerlab's simulated shell: runs ``sh -c '...'`` inside a container's filesystem.

It starts no process and never touches the host: every file a command reads or writes goes
through the :class:`~layerlab.container.Container` file API, so copy-ups and whiteouts are
recorded as on a real overlayfs mount. ``Container.exec``, ``Container.start`` and builds'
``RUN`` call :func:`run_argv`.

>>> from layerlab import Image, Layer
>>> c = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\\n"})]).create_container()
>>> r = run(c, "echo hello > /greeting && cat /greeting /etc/motd | wc -l; nosuch")
>>> r.exit_code, r.stdout, r.stderr
(127, '2\\n', 'sh: 1: nosuch: not found\\n')

==================  ===========================================================================
Supported           What it covers
==================  ===========================================================================
syntax              words, '...' and "..." quoting, backslash escapes, line continuations,
                    ``#`` comments, ``;`` ``&&`` ``||`` ``!``, pipelines ``|`` (run in order:
                    the left side finishes first), redirections ``>`` ``>>`` ``<`` ``2>``
                    ``2>&1`` ``>&2`` ``&>`` and ``/dev/null``
expansion           ``$VAR`` ``${VAR}`` ``${VAR:-x}`` ``${VAR:=x}`` ``${VAR:+x}`` ``${VAR:?x}``
                    ``${#VAR}``, ``$?`` ``$$`` (always 1) ``$0`` ``$1``.. ``$#`` ``$@``,
                    ``$(...)`` and backquotes, ``~``, field splitting of unquoted
                    expansions, globbing ``*`` ``?`` ``[...]`` against the container's
                    files (no match: the word stays as written), ``FOO=bar cmd``, ``FOO=bar``
builtins            cd pwd export unset set (-e -u -x, -o pipefail) env printenv exit true
                    false ``:`` test ``[`` which command type source ``.`` sh/bash/ash/dash
                    (-c, a script file, or stdin)
files               ls (-l -a -A -1 -R -d -h) cat mkdir (-p -m) touch rm (-r -f,
                    --no-preserve-root) rmdir cp (-r -a -p) mv ln (-s -f) chmod (octal,
                    u+x a-w +x go=rx, -R) chown/chgrp (uid:gid, names from /etc/passwd and
                    /etc/group, -R) stat (-c) find (-name -iname -path -type -maxdepth
                    -mindepth -delete, ``!``) du (-s -h -b -c)
text                echo (-n -e) printf (%s %d %i %x %o %c %b, widths) head tail (-n -c)
                    wc (-l -w -c) grep (-v -c -q -i -n -l -E -F -w -x -e) sort (-r -n -u -f)
                    uniq (-c -d -u) tee (-a) basename dirname
system              id whoami hostname uname (-a) date (+FORMAT; the container's logical
                    clock) ps (the container's own process table) sleep (returns at once)
packages            apt-get/apt update/install/remove/purge/clean, apk add/del/update
                    (--no-cache), pip install/uninstall/list (--no-cache-dir): a built-in
                    catalogue, **simulated**, no network, sizes scaled down 100x
                    (:mod:`layerlab.shell.packages`)
==================  ===========================================================================

==================  ===========================================================================
Refused             Answer
==================  ===========================================================================
unknown command     status 127, ``sh: 1: foo: not found``
program in PATH     status 126: a file installed by a simulated package (``/usr/bin/curl``)
                    is found but cannot be executed; ``--version`` answers from the catalogue
compound commands   ``if`` ``for`` ``while`` ``until`` ``case`` ``{ }`` ``( )``, functions,
                    background ``&``, here-documents ``<<``, arithmetic ``$((...))``:
                    status 2 with a message that says they are not supported
malformed input     unterminated quote, ``&& ls``, ``ls |``: status 2, ``syntax error``
``.wh.`` names      writing a file named ``.wh.*`` (a layer could not tell it from a
                    whiteout): status 1 with the refusal message
``rm -rf /``        refused as GNU rm does, unless ``--no-preserve-root`` (then every
                    top-level entry is whited out; the image below stays unchanged)
stopped container   ``ContainerStateError`` (the only exception :func:`run_argv` raises)
==================  ===========================================================================

Like ``docker exec``, each command line starts from the container's ``env`` and ``workdir``;
``export`` and ``cd`` last until it ends. Pipes run one side after the other, not
concurrently; ``$$`` is always 1; file permissions are recorded but not enforced (you are
root).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .interp import IO, Shell, Sink
from .result import ExecResult

if TYPE_CHECKING:
    from ..container import Container

__all__ = ["ExecResult", "run", "run_argv"]


def _clean(text: str) -> str:
    """Undecodable bytes (``cat /usr/bin/curl``) become U+FFFD in the returned text."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace") if any(
        "\udc80" <= ch <= "\udcff" for ch in text) else text


def run_argv(container: Container, argv: Sequence[str]) -> ExecResult:
    """Run ``argv`` in ``container``: ``["sh", "-c", "script"]`` (or ``/bin/sh``, ``bash``)
    runs a script; anything else (``["touch", "/happy.txt"]``) runs as one command, with no
    expansion, as Docker's exec form does.

    Only :class:`~layerlab.errors.ContainerStateError` is raised; every other failure is an
    exit status and a message on stderr.
    """
    out, err = Sink(), Sink()
    status = Shell(container).run_argv(list(argv), IO("", out, err)) if argv else 0
    return ExecResult(status, _clean(out.text()), _clean(err.text()))


def run(container: Container, script: str) -> ExecResult:
    """Run a shell script in ``container`` (``sh -c script``)."""
    return run_argv(container, ["sh", "-c", script])

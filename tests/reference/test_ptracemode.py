"""Ptrace mode (PRoot) against the simulated shell, and its isolation rules.

The nine scripts that real mode and the simulated shell agree on (tests/reference/
test_realmode.py) must give the same ``diff()`` and committed view under ptrace too. The
mode rule is tested with each forced value; a run as ``nobody`` where user namespaces are
denied (``user.max_user_namespaces = 0`` inside a test user namespace) must pick ptrace.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile

import pytest

from layerlab import Container, File, Image, Layer, Symlink, executors, ptracemode
from layerlab.executors import RealModeUnavailable, choose
from layerlab.ptracemode import materialized_root, run_ptrace

from .test_realmode import (
    SCRIPTS,
    _shape,
    assert_agrees_with_simulated,
    assert_untouched,
    busybox_or_skip,
    host_victim,
)


@pytest.fixture(scope="module")
def image() -> Image:
    if os.environ.get("LAYERLAB_REAL_MODE"):
        pytest.skip("LAYERLAB_REAL_MODE is set for this session; these tests force it themselves")
    return busybox_or_skip(ptracemode.detect(), "ptrace mode")


@pytest.fixture
def forced_ptrace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERLAB_REAL_MODE", "ptrace")


PTRACE_NOTE = ("layerlab: ran under ptrace (PRoot) on a copy of the merged view, with no PID, "
               "mount or network namespace (forced by LAYERLAB_REAL_MODE=ptrace)\n")


@pytest.mark.reference
@pytest.mark.parametrize("script", SCRIPTS)
def test_ptrace_and_simulated_agree(image: Image, forced_ptrace: None, script: str) -> None:
    assert_agrees_with_simulated(image, script, note=PTRACE_NOTE)


@pytest.mark.reference
def test_the_process_sees_the_host_pids_and_fake_root(image: Image, forced_ptrace: None) -> None:
    c = image.create_container(name="ps")
    r = c.run_command("id -u; ps -o pid,comm | wc -l; cat /proc/1/comm", real=True)
    uid, rows, _ = r.stdout.splitlines()
    assert uid == "0"  # PRoot's -0: it looks like root ...
    assert int(rows) > 3  # ... but there is no PID namespace: the host's processes show
    with open("/proc/1/comm") as f:
        host_init = f.read().strip()
    assert r.stdout.splitlines()[2] == host_init


@pytest.mark.reference
def test_a_second_command_reuses_the_tree_until_python_changes_the_container(
    image: Image, forced_ptrace: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    ptrace_module = importlib.import_module("layerlab.ptracemode")
    calls: list[str] = []
    original = ptrace_module.materialize_view

    def counting(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append("flatten")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ptrace_module, "materialize_view", counting)
    c = image.create_container(name="reuse")
    c.run_command("echo one > /one", real=True)
    root = materialized_root(c)
    assert root is not None and os.path.isdir(root)
    second = c.run_command("cat /one; echo two > /two", real=True)
    assert second.stdout == "one\n"
    assert materialized_root(c) == root and calls == ["flatten"]
    c.write("/from-python", "py\n")  # a change made outside the tree: it is made again
    third = c.run_command("cat /from-python /two", real=True)
    assert third.stdout == "py\ntwo\n"
    assert calls == ["flatten", "flatten"]
    assert [str(x) for x in c.diff()] == ["A /from-python", "A /one", "A /two"]
    c.rm()
    assert not os.path.exists(os.path.dirname(root))


@pytest.mark.reference
def test_the_tree_is_private(image: Image, forced_ptrace: None) -> None:
    c = image.create_container(name="private")
    c.run_command("true", real=True)
    root = materialized_root(c)
    assert root is not None
    base = os.path.dirname(root)
    st = os.stat(base)
    assert st.st_mode & 0o777 == 0o700
    assert st.st_uid == (ptracemode.NOBODY if os.geteuid() == 0 else os.getuid())
    if os.path.isdir("/dev/shm"):
        assert base.startswith("/dev/shm/")


@pytest.mark.reference
def test_symlinks_in_the_image_cannot_reach_the_host(
    image: Image, forced_ptrace: None, tmp_path: os.PathLike[str]
) -> None:
    victim = host_victim(tmp_path)
    links = Layer.from_dict({
        "/hostetc": Symlink("/etc"),
        "/dots": Symlink("../../../../../../../../etc"),
        "/abs": Symlink("/etc/hostname"),
        "/vict": Symlink(victim),
        "/etc/hostname": "guest-hostname\n",
    })
    img = Image.from_layers([*image.layers, links], config=image.config)
    c = img.create_container(name="links")
    r = c.run_command(
        "cat /hostetc/hostname /dots/hostname /abs; cat /vict/keep.txt; "
        "echo pwned > /dots/layerlab-pwned; echo pwned > /vict/new; rm -rf /vict/; "
        f"cat {victim}/keep.txt; cd /../../../..; pwd; echo x > /../../escaped; "
        "cat /proc/1/root/etc/hostname; true", real=True)
    assert r.stdout.splitlines()[:3] == ["guest-hostname"] * 3, r
    assert "untouched" not in r.stdout
    assert "/\n" in r.stdout
    assert not os.path.exists("/etc/layerlab-pwned") and not os.path.exists("/escaped")
    assert_untouched(victim)
    # what the process wrote is in its own read-write layer, nowhere else
    assert c.read("/etc/layerlab-pwned") == b"pwned\n"
    assert c.read("/escaped") == b"x\n"


@pytest.mark.reference
def test_setuid_bits_are_not_honoured(image: Image, forced_ptrace: None) -> None:
    busybox = image.view().read("/bin/busybox")
    suid = Layer.from_dict({"/usr/local/bin/busybox": File(busybox, mode=0o4755)})
    img = Image.from_layers([*image.layers, suid], config=image.config)
    c = img.create_container(name="suid")
    r = c.run_command("stat -c %a /usr/local/bin/busybox; /usr/local/bin/busybox grep Uid "
                      "/proc/self/status", real=True)
    mode, uids = r.stdout.splitlines()
    assert mode == "755", r  # the bit never reached the tree
    real_uid = ptracemode.NOBODY if os.geteuid() == 0 else os.getuid()
    assert uids.split()[1:] == [str(real_uid)] * 4, r  # real, effective, saved, fs: no 0
    assert [str(x) for x in c.diff()] == []  # the dropped bit is no change of the container


def _processes_with(marker: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(name))
            except OSError:
                continue
    return found


@pytest.mark.reference
def test_a_timeout_kills_the_whole_tree_and_leaves_no_directory(
    image: Image, forced_ptrace: None
) -> None:
    before = set(glob.glob("/dev/shm/layerlab-ptrace-*") + glob.glob(
        os.path.join(tempfile.gettempdir(), "layerlab-ptrace-*")))
    c = image.create_container(name="slow")
    result = run_ptrace(c, ["sh", "-c", "echo started > /started; setsid sleep 313 & "
                            "sleep 314 & sleep 315"], timeout=1.5)
    assert result.exit_code == 137
    assert "killed after 1.5 s" in result.stderr
    assert c.read("/started") == b"started\n"  # what it wrote before dying is kept
    assert _processes_with("sleep\x00313") == [] and _processes_with("sleep\x00315") == []
    assert materialized_root(c) is None
    after = set(glob.glob("/dev/shm/layerlab-ptrace-*") + glob.glob(
        os.path.join(tempfile.gettempdir(), "layerlab-ptrace-*")))
    assert after <= before


@pytest.mark.reference
def test_a_background_process_ends_with_the_command(image: Image, forced_ptrace: None) -> None:
    c = image.create_container(name="bg")
    r = c.run_command("setsid sleep 317 & echo done", real=True)
    assert (r.exit_code, r.stdout) == (0, "done\n")
    assert _processes_with("sleep\x00317") == []  # like the end of a PID namespace


# --- the mode rule --------------------------------------------------------------------------

def _fake(monkeypatch: pytest.MonkeyPatch, *, namespaces: bool, ptrace: bool) -> None:
    import layerlab.realmode as realmode

    monkeypatch.setattr(realmode, "detect", lambda: realmode.Support(
        namespaces, "root" if namespaces else "", "" if namespaces else "no user namespaces"))
    monkeypatch.setattr(ptracemode, "detect", lambda: ptracemode.Support(
        ptrace, "as uid 1000" if ptrace else "", "" if ptrace else "no proot"))


@pytest.mark.parametrize(("forced", "namespaces", "ptrace", "chosen", "note"), [
    ("", True, True, "namespaces", ""),
    ("", False, True, "ptrace", "ran under ptrace (PRoot) on a copy of the merged view, with no"
     " PID, mount or network namespace (namespaces: no user namespaces)"),
    ("", False, False, "simulated", "real mode unavailable (namespaces: no user namespaces; "
     "ptrace: no proot); ran in the simulated shell"),
    ("namespaces", True, True, "namespaces", ""),
    ("namespaces", False, True, "simulated",
     "real mode unavailable (no user namespaces); ran in the simulated shell"),
    ("ptrace", True, True, "ptrace", "(forced by LAYERLAB_REAL_MODE=ptrace)"),
    ("ptrace", True, False, "simulated", "real mode unavailable (no proot); ran in the"
     " simulated shell"),
    ("off", True, True, "simulated", "real mode unavailable (turned off by LAYERLAB_REAL_MODE);"
     " ran in the simulated shell"),
    ("0", True, True, "simulated", "turned off by LAYERLAB_REAL_MODE"),
])
def test_the_mode_rule(monkeypatch: pytest.MonkeyPatch, forced: str, namespaces: bool,
                       ptrace: bool, chosen: str, note: str) -> None:
    monkeypatch.setenv("LAYERLAB_REAL_MODE", forced)
    _fake(monkeypatch, namespaces=namespaces, ptrace=ptrace)
    choice = choose(True)
    assert choice.executor.name == chosen
    assert note in choice.note and (choice.note == "") == (note == "")
    assert choose(False).executor is executors.SIMULATED


def test_the_note_is_on_stderr_of_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAYERLAB_REAL_MODE", raising=False)
    _fake(monkeypatch, namespaces=False, ptrace=False)
    c = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n"})]).create_container()
    r = c.run_command("echo hi > /x", real=True)
    assert r.stderr == ("layerlab: real mode unavailable (namespaces: no user namespaces; "
                        "ptrace: no proot); ran in the simulated shell\n")
    assert c.read("/x") == b"hi\n"


def test_an_injected_executor_runs_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    class Recording:
        name = "recording"

        def support(self) -> executors.ModeSupport:
            return executors.ModeSupport("recording", True)

        def run(self, container: Container, argv: list[str]):  # type: ignore[no-untyped-def]
            seen.append(list(argv))
            return executors.SIMULATED.run(container, argv)

    recording = Recording()
    assert isinstance(recording, executors.Executor)
    c = Container(Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n"})]),
                  executor=recording)
    c.run_command("echo hi > /x", real=True)
    c.start()  # sh: a long-running PID 1, not run by any executor
    c.exec("cat /x")
    assert seen == [["sh", "-c", "echo hi > /x"], ["cat", "/x"]]
    assert c.read("/x") == b"hi\n"


@pytest.mark.reference
def test_ptrace_detection_is_cached_per_kernel(image: Image) -> None:
    ptracemode.detect()
    hits = ptracemode._detect.cache_info().hits
    assert ptracemode.detect().available
    assert ptracemode._detect.cache_info().hits == hits + 1
    assert ptracemode._detect.cache_info().currsize == 1


@pytest.mark.reference
def test_nobody_without_user_namespaces_gets_ptrace(image: Image) -> None:
    """uid 65534 in a user namespace where ``user.max_user_namespaces`` is 0: namespaces
    are refused (as on Binder), so ``real=True`` runs under ptrace and says so."""
    if os.geteuid() != 0:
        pytest.skip("this test makes a user namespace with a full id map, which needs root")
    helper = (
        "import ctypes, os, sys\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "r1, w1 = os.pipe(); r2, w2 = os.pipe()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    if libc.unshare(0x10000000) != 0: os._exit(90)\n"
        "    os.write(w1, b'x'); os.read(r2, 1)\n"
        "    os.setresgid(0, 0, 0); os.setresuid(0, 0, 0)\n"
        "    with open('/proc/sys/user/max_user_namespaces', 'w') as f: f.write('0\\n')\n"
        "    os.execvp('setpriv', ['setpriv', '--reuid=65534', '--regid=65534',\n"
        "                          '--clear-groups', *sys.argv[1:]])\n"
        "os.read(r1, 1)\n"
        "for m in ('uid_map', 'gid_map'):\n"
        "    with open(f'/proc/{pid}/{m}', 'w') as f: f.write('0 0 65536\\n')\n"
        "os.write(w2, b'x')\n"
        "sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    )
    code = (
        "import os\n"
        "from layerlab.busybox import busybox_image\n"
        "from layerlab.executors import choose\n"
        "print(os.getuid(), choose(True).executor.name)\n"
        "c = busybox_image().create_container(name='u')\n"
        "r = c.run_command('echo hi > /happy.txt; rm -rf /usr && mkdir /usr', real=True)\n"
        "print(r.stderr.splitlines()[0])\n"
        "print(' '.join(str(x) for x in c.diff()), sorted(c.rw.opaques))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LAYERLAB_REAL_MODE"}
    done = subprocess.run([sys.executable, "-c", helper, sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=180, check=False,
                          env={**env, "HOME": tempfile.gettempdir()}, cwd=tempfile.gettempdir())
    if done.returncode == 90:
        pytest.skip("cannot make a user namespace to deny user namespaces in")
    assert done.returncode == 0, done.stderr
    who, note, changes = done.stdout.splitlines()
    assert who == "65534 ptrace"
    assert note.startswith("layerlab: ran under ptrace (PRoot)")
    assert "namespaces: unprivileged user namespaces cannot mount overlayfs" in note
    assert changes == "A /happy.txt C /usr D /usr/bin ['/usr']"


@pytest.mark.reference
def test_ptrace_builds_are_reproducible(image: Image, forced_ptrace: None) -> None:
    from layerlab.build import build

    dockerfile = "FROM layerlab/busybox\nRUN echo hi > /hello && mkdir -p /app/data\n"
    first = build(dockerfile, real=True)
    second = build(dockerfile, real=True)
    simulated = build(dockerfile)
    assert first.id == second.id
    assert _shape(first) == _shape(simulated)


@pytest.mark.reference
def test_a_mode_that_refuses_the_command_passes_it_on(
    image: Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    import layerlab.realmode as realmode

    monkeypatch.delenv("LAYERLAB_REAL_MODE", raising=False)
    monkeypatch.setattr(realmode, "detect", lambda: realmode.Support(True, "root", ""))

    def refuse(container: Container, argv: list[str]) -> None:
        raise RealModeUnavailable("idmapped mounts refused here")

    monkeypatch.setattr(executors.NAMESPACES, "run", refuse)
    c = image.create_container(name="pass-on")
    r = c.run_command("echo hi > /happy.txt; cat /proc/1/comm", real=True)
    assert r.stderr == ("layerlab: ran under ptrace (PRoot) on a copy of the merged view, with "
                        "no PID, mount or network namespace (namespaces: idmapped mounts "
                        "refused here)\n")
    assert r.stdout != "cat\n"  # not PID 1: ptrace really ran it
    assert [str(x) for x in c.diff()] == ["A /happy.txt"]


@pytest.mark.reference
def test_a_symlink_where_a_bind_goes_gets_no_bind(image: Image, forced_ptrace: None) -> None:
    img = Image.from_layers([*image.layers, Layer.from_dict(
        {"/proc": Symlink("/"), "/dev": Symlink("/etc")})], config=image.config)
    c = img.create_container(name="nobind")
    r = c.run_command("ls /etc/passwd; cat /proc/etc/os-release; ls /dev/ | head -3", real=True)
    assert r.stdout.splitlines()[0] == "/etc/passwd", r
    assert r.stdout.splitlines()[1] == "NAME=layerlab busybox", r  # the image's, via the link
    assert [str(x) for x in c.diff()] == []


@pytest.mark.reference
def test_an_injected_ptrace_executor_runs_without_real(image: Image) -> None:
    if os.environ.get("LAYERLAB_REAL_MODE"):
        pytest.skip("LAYERLAB_REAL_MODE is set")
    c = image.create_container(name="injected", executor=executors.PTRACE)
    r = c.run_command("cat /proc/1/comm; echo x > /x")
    assert r.exit_code == 0 and r.stderr == "", r  # an injected executor prints no note
    assert r.stdout != "cat\n"
    assert [str(x) for x in c.diff()] == ["A /x"]

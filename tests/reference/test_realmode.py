"""Real mode against simulated mode: the same commands, the same changes.

Real mode mounts the image's layers with the kernel's overlayfs in new namespaces and runs
busybox as PID 1; the simulated shell only models it. For the shell subset both support,
they must agree on ``diff()`` and on the committed merged view (mtimes aside: the kernel
stamps real times, clamped on capture).
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile

import pytest

from layerlab import Container, Image, Layer
from layerlab.busybox import busybox_image
from layerlab.executors import Support
from layerlab.realmode import RealModeUnavailable, detect, run_real


def busybox_or_skip(support: Support, mode: str) -> Image:
    """The busybox image for a real mode's tests, or a skip saying why the mode (or the
    image) is not possible here."""
    if not support.available:
        pytest.skip(f"{mode} not possible here: {support.reason}")
    try:
        return busybox_image()
    except RealModeUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def image() -> Image:
    return busybox_or_skip(detect(), "real mode")


def _shape(img: Image) -> dict[str, tuple[str, int, int, str | None, str]]:
    return {e.path: (str(e.kind), e.mode, e.size, e.digest, e.linkname)
            for e in img.view().walk()}


SCRIPTS = [
    "echo hi > /happy.txt",
    "mkdir -p /a/b/c && echo x > /a/b/c/f",
    "rm /etc/os-release",
    "rm -rf /usr && mkdir /usr && touch /usr/new",
    "echo 'extra:x:1000:1000::/:/bin/sh' >> /etc/passwd",
    "ln -s /etc/passwd /pw && mv /etc/group /etc/group2",
    "cp /etc/passwd /tmp/p && chmod 600 /tmp/p",
    "rm -rf /tmp && mkdir /tmp && echo t > /tmp/t",
    "mkdir /d && echo 1 > /d/one && rm /d/one",
]


def assert_agrees_with_simulated(image: Image, script: str, *, note: str = "") -> None:
    """``script`` run for real (whichever real mode is in force; it prints ``note`` on
    stderr) and in the simulated shell: the same diff, committed view and markers."""
    real = image.create_container(name="real")
    simulated = image.create_container(name="sim")
    r = real.run_command(script, real=True)
    s = simulated.run_command(script)
    assert (r.exit_code, r.stderr) == (0, note), r
    assert (s.exit_code, s.stderr) == (0, ""), s
    assert [str(c) for c in real.diff()] == [str(c) for c in simulated.diff()]
    assert _shape(real.commit()) == _shape(simulated.commit())
    assert real.rw.whiteouts == simulated.rw.whiteouts
    assert real.rw.opaques == simulated.rw.opaques


def host_victim(tmp_path: os.PathLike[str]) -> str:
    """A host directory holding ``keep.txt`` that no command may reach."""
    victim = os.path.join(tmp_path, "victim")
    os.mkdir(victim)
    with open(os.path.join(victim, "keep.txt"), "w") as f:
        f.write("untouched\n")
    return victim


def assert_untouched(victim: str) -> None:
    assert sorted(os.listdir(victim)) == ["keep.txt"]
    with open(os.path.join(victim, "keep.txt")) as f:
        assert f.read() == "untouched\n"


@pytest.mark.reference
@pytest.mark.parametrize("script", SCRIPTS)
def test_real_and_simulated_agree(image: Image, script: str) -> None:
    assert_agrees_with_simulated(image, script)


@pytest.mark.reference
def test_pid_1_and_only_its_own_processes(image: Image) -> None:
    c = image.create_container(name="ps")
    result = c.run_command("ps -o pid,comm", real=True)
    rows = [line.split() for line in result.stdout.strip().splitlines()[1:]]
    assert rows[0][0] == "1"
    assert all(int(pid) < 20 for pid, *_ in rows), rows  # no host PIDs in sight
    assert not any("python" in " ".join(r) for r in rows)


@pytest.mark.reference
def test_host_files_are_out_of_reach(image: Image, tmp_path: os.PathLike[str]) -> None:
    victim = host_victim(tmp_path)
    c = image.create_container(name="iso")
    result = c.run_command(
        f"cat {victim}/keep.txt; rm -rf {victim}; mkdir -p {victim}; echo pwned > {victim}/new;"
        " ls /.oldroot; echo x > /../../escaped; true", real=True)
    assert "untouched" not in result.stdout
    assert_untouched(victim)
    assert not os.path.exists("/escaped")
    # what the process wrote is in its own read-write layer, nowhere else
    assert c.read(f"{victim}/new") == b"pwned\n"
    assert c.read("/escaped") == b"x\n"


def test_unprivileged_user_runs_real_mode(image: Image) -> None:
    # Not marked ``reference``: what it can miss is not a tool but the setting (root to
    # switch users, a checkout uid 65534 may read); the kernel itself is tested above.
    if os.geteuid() != 0:
        pytest.skip("this test switches to uid 65534 with setpriv, which needs root")
    probe = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
         "import layerlab"], capture_output=True, text=True, timeout=60, check=False,
        cwd=tempfile.gettempdir())
    if probe.returncode != 0:
        pytest.skip(f"uid 65534 cannot run this checkout's Python: {probe.stderr.strip()[-200:]}")
    code = (
        "from layerlab.busybox import busybox_image\n"
        "from layerlab.realmode import detect\n"
        "print(detect().how)\n"
        "c = busybox_image().create_container(name='u')\n"
        "r = c.run_command('ps; echo hi > /happy.txt; rm -rf /usr && mkdir /usr', real=True)\n"
        "print(r.stdout.splitlines()[1].split()[0])\n"
        "print(' '.join(str(x) for x in c.diff()), sorted(c.rw.opaques))\n"
    )
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
         code], capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "HOME": tempfile.gettempdir()}, cwd=tempfile.gettempdir())
    if "cannot mount overlayfs" in done.stdout + done.stderr:
        pytest.skip("unprivileged user namespaces cannot mount overlayfs on this kernel")
    assert done.returncode == 0, done.stderr
    how, pid, changes = done.stdout.splitlines()
    assert how == "user namespace"
    assert pid == "1"
    assert changes == "A /happy.txt C /usr D /usr/bin ['/usr']"


@pytest.mark.reference
def test_a_killed_run_leaves_no_mount_and_no_work_dir(image: Image,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # A temporary directory of this test's own, so that other runs sharing /tmp cannot
    # make or remove work directories while it counts them.
    own = tempfile.mkdtemp(prefix="layerlab-test-tmp-")
    os.chmod(own, 0o755)
    monkeypatch.setattr(tempfile, "tempdir", own)
    try:
        c = image.create_container(name="slow")
        result = run_real(c, ["sh", "-c", "echo started > /started; sleep 30"], timeout=1.5)
        assert result.exit_code == 137
        assert "killed after" in result.stderr
        assert c.read("/started") == b"started\n"  # what it wrote before dying is kept
        assert glob.glob(os.path.join(own, "layerlab-real-*")) == []
    finally:
        monkeypatch.undo()
        os.rmdir(own)  # fails if the run left anything behind
    with open("/proc/self/mountinfo") as f:
        assert "layerlab-real-" not in f.read()


@pytest.mark.reference
def test_real_builds_are_reproducible(image: Image) -> None:
    from layerlab.build import build

    dockerfile = "FROM layerlab/busybox\nRUN echo hi > /hello && mkdir -p /app/data\n"
    first = build(dockerfile, real=True)
    second = build(dockerfile, real=True)
    simulated = build(dockerfile)
    assert first.id == second.id
    assert _shape(first) == _shape(simulated)


def test_fallback_says_why_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERLAB_REAL_MODE", "off")
    c = Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n"})]).create_container()
    result = c.run_command("echo hi > /happy.txt", real=True)
    assert result.exit_code == 0
    assert result.stderr == ("layerlab: real mode unavailable (turned off by LAYERLAB_REAL_MODE);"
                             " ran in the simulated shell\n")
    assert [str(ch) for ch in c.diff()] == ["A /happy.txt"]


def test_an_image_without_a_shell_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import layerlab.realmode as realmode

    monkeypatch.setattr(realmode, "detect", lambda: realmode.Support(True, "root", ""))
    c = Container(Image.from_layers([Layer.from_dict({"/etc/motd": "hi\n"})]), real=True)
    result = c.run_command("echo hi > /x")
    assert "the image has no /bin/sh" in result.stderr
    assert c.read("/x") == b"hi\n"


@pytest.mark.reference
def test_store_containers_use_the_stores_own_directories(
    image: Image, tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from layerlab.store import Store

    store = Store(os.path.join(tmp_path, "store"))
    c = store.create_container(image, name="stored")
    used: list[str] = []
    original = Store.real_mode_dirs

    def recording(self: Store, container: Container):  # type: ignore[no-untyped-def]
        used.append(container.name)
        return original(self, container)

    monkeypatch.setattr(Store, "real_mode_dirs", recording)
    result = c.run_command("echo hi > /happy.txt", real=True)
    assert result.exit_code == 0, result
    assert used == ["stored"]  # the kernel wrote into the store's own upper directory
    with open(os.path.join(store.container_dir(c), "happy.txt")) as f:
        assert f.read() == "hi\n"
    assert not os.path.exists(store.layout.container_work(c.id))
    assert store.verify().ok


def _host_ns(kind: str) -> str:
    return os.readlink(f"/proc/self/ns/{kind}")


@pytest.mark.reference
def test_the_command_runs_in_a_user_namespace_with_unprivileged_ids(image: Image) -> None:
    from layerlab._sandbox import ID_RANGE, ROOT_ID_BASE

    c = image.create_container(name="userns")
    r = c.run_command("cat /proc/self/uid_map /proc/self/gid_map; id -u", real=True)
    assert r.exit_code == 0, r
    *maps, uid = r.stdout.split("\n")[:-1]
    assert uid == "0"  # root inside ...
    for line in maps:
        inside, outside, count = (int(x) for x in line.split())
        assert inside == 0 and outside != 0  # ... never the host's root
        if os.geteuid() == 0:
            assert (outside, count) == (ROOT_ID_BASE, ID_RANGE)
        else:
            assert count == 1


@pytest.mark.reference
def test_capabilities_are_dockers_default_set_and_no_new_privs(image: Image) -> None:
    c = image.create_container(name="caps")
    r = c.run_command("grep -E '^(CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status", real=True)
    fields = dict(line.split(":\t") for line in r.stdout.splitlines())
    # moby/oci/caps/defaults.go: CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID
    # SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE
    assert fields == {"CapEff": "00000000a80425fb", "CapBnd": "00000000a80425fb",
                      "CapAmb": "0000000000000000", "NoNewPrivs": "1"}, r


@pytest.mark.reference
def test_own_network_with_only_loopback_and_own_ipc(image: Image) -> None:
    c = image.create_container(name="net")
    r = c.run_command("tail -n +3 /proc/net/dev | cut -d: -f1; for n in net ipc user uts; do "
                      "readlink /proc/self/ns/$n; done", real=True)
    *interfaces, net, ipc, user, uts = [line.strip() for line in r.stdout.splitlines()]
    assert interfaces == ["lo"], r
    assert net != _host_ns("net") and ipc != _host_ns("ipc")
    assert user != _host_ns("user") and uts != _host_ns("uts")
    up = c.run_command("ping -c 1 -W 1 127.0.0.1 >/dev/null && echo up", real=True)
    assert up.stdout == "up\n", up


@pytest.mark.reference
def test_mknod_of_a_device_is_refused_and_dev_holds_only_null(image: Image) -> None:
    c = image.create_container(name="mknod")
    r = c.run_command("mknod /dev/kmsg c 1 11; echo $?; mknod /kmsg c 1 11; echo $?; ls /dev; "
                      "echo ok > /dev/null && echo null-works", real=True)
    lines = r.stdout.splitlines()
    assert lines[0] != "0" and lines[1] != "0", r
    assert "Operation not permitted" in r.stderr
    assert lines[2:] == ["null", "null-works"]
    assert not c.exists("/kmsg")


@pytest.mark.reference
def test_host_kernel_log_and_host_files_stay_unwritable(image: Image) -> None:
    # the attack from issue 15: a device node for the host's kernel log
    c = image.create_container(name="kmsg")
    r = c.run_command("mknod /k c 1 11; echo layerlab-pwned > /k", real=True)
    assert "Operation not permitted" in r.stderr
    assert str(c.rw.entries["/k"].kind) == "file"  # the echo made a plain file, no device
    with open("/proc/sys/kernel/hostname") as f:
        host = f.read()
    c.run_command("hostname hacked", real=True)
    with open("/proc/sys/kernel/hostname") as f:
        assert f.read() == host

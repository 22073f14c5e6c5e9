"""--output into what is already there: devices, FIFOs, descriptors, links, modes, long names.

A regular file is replaced whole (temporary file + rename); what a rename would swap
out instead of writing into is written in place. Special files are made in a temporary
directory (a FIFO, device nodes made with mknod), never the real /dev entries.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from autograd_cli import runner
from autograd_cli.errors import ExitCode

ARGS = ("jvp", "--json")


def _expected(agrad) -> str:
    result = agrad(*ARGS)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _one_error_line(result, *words: str) -> str:
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("agrad: error: ")
    for word in words:
        assert word in line, line
    return line


# Item 1: devices, FIFOs and descriptors are written into, not replaced -----------------


def test_a_fifo_is_written_into_and_stays_a_fifo(agrad, tmp_path):
    fifo = tmp_path / "graph.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        result = agrad(*ARGS, "--output", str(fifo))
        assert result.exit_code == 0, result.stderr
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # not replaced by a regular file
        received, _ = reader.communicate(timeout=60)  # only a guard against a hang
    finally:
        reader.kill()
        reader.wait()
    assert received.decode("utf-8") == _expected(agrad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.fifo"]


def test_a_fifo_whose_reader_leaves_early_is_exit_1_with_the_reason(agrad, tmp_path):
    # Far more than a pipe holds (64 KiB), so writing must meet the closed end: EPIPE.
    fifo = tmp_path / "graph.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["head", "-c", "1", str(fifo)], stdout=subprocess.DEVNULL)
    try:
        result = agrad("chain", "--length", "3000", "--json", "--output", str(fifo))
    finally:
        reader.kill()
        reader.wait()
    assert result.exit_code == ExitCode.RUNTIME
    _one_error_line(result, f"--output {fifo}", os.strerror(errno.EPIPE))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def _device(tmp_path: Path, name: str, major: int, minor: int) -> Path:
    node = tmp_path / name
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.close(os.open(node, os.O_WRONLY))  # a nodev mount refuses to open it
    except OSError as e:
        pytest.skip(f"cannot make a device node here: {e}")
    return node


def test_a_null_device_is_written_into_and_stays_a_device(agrad, tmp_path):
    null = _device(tmp_path, "null", 1, 3)  # Linux's /dev/null numbers
    result = agrad(*ARGS, "--output", str(null))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_a_full_device_is_exit_1_with_enospc(agrad, tmp_path):
    full = _device(tmp_path, "full", 1, 7)  # Linux's /dev/full: every write is ENOSPC
    result = agrad(*ARGS, "--output", str(full))
    assert result.exit_code == ExitCode.RUNTIME
    _one_error_line(result, f"--output {full}", os.strerror(errno.ENOSPC))
    assert stat.S_ISCHR(os.lstat(full).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


needs_proc_fd = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="needs Linux's /proc/self/fd"
)


@needs_proc_fd
@pytest.mark.parametrize("stdout_kind", ["pipe", "appended file"])
def test_a_path_to_stdout_writes_to_the_descriptor(agrad, tmp_path, stdout_kind):
    # A link to /proc/self/fd/1 stands for /dev/stdout (which is one), without touching /dev.
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    redirected = tmp_path / "redirected.json"
    redirected.write_text("before\n", encoding="utf-8")
    command = [sys.executable, "-m", "autograd_cli", *ARGS, "--output", str(link)]
    if stdout_kind == "pipe":
        done = subprocess.run(command, capture_output=True, timeout=300)
        written = done.stdout.decode("utf-8")
    else:  # `>> redirected.json`: the write lands after what was there
        inode = redirected.stat().st_ino
        with redirected.open("ab") as out:
            done = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, timeout=300)
        assert redirected.stat().st_ino == inode  # the same file, not a replacement
        text = redirected.read_text(encoding="utf-8")
        assert text.startswith("before\n")
        written = text.removeprefix("before\n")
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    assert json.loads(written) == json.loads(_expected(agrad))


def test_enospc_while_replacing_keeps_the_old_file_and_leaves_no_temporary(
    agrad, tmp_path, monkeypatch
):
    target = tmp_path / "graph.json"
    target.write_text("old\n", encoding="utf-8")

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    result = agrad(*ARGS, "--output", str(target))
    monkeypatch.undo()
    assert result.exit_code == ExitCode.RUNTIME
    _one_error_line(result, f"--output {target}", os.strerror(errno.ENOSPC))
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["graph.json"]


# Item 2: what an existing file is stays so -------------------------------------------


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604])
def test_overwriting_keeps_the_file_mode(agrad, tmp_path, mode):
    target = tmp_path / "graph.json"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(mode)
    result = agrad(*ARGS, "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert target.read_text(encoding="utf-8") == _expected(agrad)
    assert [p.name for p in tmp_path.iterdir()] == ["graph.json"]


def test_a_new_file_follows_the_umask(agrad, tmp_path):
    target = tmp_path / "graph.json"
    previous = os.umask(0o027)
    try:
        result = agrad(*ARGS, "--output", str(target))
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_read_only_file_is_refused_before_any_work(agrad, tmp_path, monkeypatch):
    target = tmp_path / "graph.json"
    target.write_text("keep me\n", encoding="utf-8")
    target.chmod(0o444)
    built = []
    original = runner.build_report
    monkeypatch.setattr(
        runner, "build_report", lambda *a, **k: built.append(1) or original(*a, **k)
    )
    result = agrad(*ARGS, "--output", str(target))
    assert result.exit_code == ExitCode.RUNTIME
    _one_error_line(result, f"--output {target}", "read-only")
    assert built == []  # refused while parsing, before the report was built
    assert target.read_text(encoding="utf-8") == "keep me\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o444


def test_hard_links_are_not_split(agrad, tmp_path):
    target = tmp_path / "graph.json"
    target.write_text("old\n", encoding="utf-8")
    other = tmp_path / "other-name.json"
    os.link(target, other)
    result = agrad(*ARGS, "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert os.path.samefile(target, other) and target.stat().st_nlink == 2
    assert other.read_text(encoding="utf-8") == _expected(agrad)


def test_a_symbolic_link_is_followed_not_replaced(agrad, tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old\n", encoding="utf-8")
    real.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to("real.json")
    result = agrad(*ARGS, "--output", str(link))
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == "real.json"
    assert real.read_text(encoding="utf-8") == _expected(agrad)
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_file_of_another_user_keeps_its_owner(agrad, tmp_path):
    target = tmp_path / "graph.json"
    target.write_text("old\n", encoding="utf-8")
    os.chown(target, 65534, 65534)  # nobody
    target.chmod(0o666)
    result = agrad(*ARGS, "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert (target.stat().st_uid, target.stat().st_gid) == (65534, 65534)
    assert target.read_text(encoding="utf-8") == _expected(agrad)


# Item 4: names at and past the file system's limit ------------------------------------


def _name_max(directory: Path) -> int:
    return os.pathconf(directory, "PC_NAME_MAX")


@pytest.mark.parametrize("letter", ["a", "é"])  # é is two bytes in UTF-8
def test_the_longest_allowed_name_is_written(agrad, tmp_path, letter):
    limit = _name_max(tmp_path)
    stem = letter * ((limit - len(".json")) // len(letter.encode("utf-8")))
    name = stem + ".json"
    assert limit - 1 <= len(name.encode("utf-8")) <= limit
    result = agrad(*ARGS, "--output", str(tmp_path / name))
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left
    assert (tmp_path / name).read_text(encoding="utf-8") == _expected(agrad)


@pytest.mark.parametrize("option", ["--output", "--export"])
def test_a_name_past_the_limit_says_so(agrad, tmp_path, option):
    limit = _name_max(tmp_path)
    target = tmp_path / ("a" * (limit + 1 - len(".txt")) + ".txt")
    result = agrad("jvp", option, str(target))
    assert result.exit_code == ExitCode.USAGE
    line = _one_error_line(result, f"{option} {target}", "too long", f"{limit + 1} bytes")
    assert "internal error" not in line
    assert list(tmp_path.iterdir()) == []

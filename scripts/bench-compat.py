#!/usr/bin/env python3
"""make bench-compat: CPython's own regression tests, module by module, in three places:

  host   as an unprivileged user (nobody), no sandbox: the reference;
  bwrap  bubblewrap with every namespace (the anchor: what a general-purpose sandbox keeps);
  wu     `wu sandbox exec --profile default` in host mode (the volunteer's /usr).

Each module runs once per mode (the modes back to back, so the machine's drift hits them alike)
with `python3 -m test --junit-xml`; a case passes when it ran with no failure, error or skip. A
module that lost cases against the host is run once more in that mode and a case counts when it
passed either time (timing tests flake on shared machines; the host gets the same second chance).
Prints, per mode, how many of the host's passing cases pass, and per module the cases lost.

Usage: bench-compat.py --wu PATH [--modes host,bwrap,wu] [--modules "test_os test_pwd"] [--results DIR]
Results (one XML per module and mode, and the report) stay in DIR; an XML already there is reused.
"""

import argparse
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

PYTHON = "/usr/bin/python3.11"
USER = "nobody"

# The list: what ordinary programs use (files, processes, threads, sockets, ptys, archives,
# databases, shared memory). Left out: test_asyncio and test_multiprocessing_{fork,spawn,forkserver}
# for time (many minutes each; test_concurrent_futures and test_multiprocessing_main_handling cover
# process pools and their semaphores), anything that needs the network, and what Debian's 3.11 does
# not ship (test_sqlite3, whose tests it leaves out; test_tty, new in 3.12).
MODULES = """
test_os test_posix test_subprocess test_threading test_tempfile test_shutil test_tarfile
test_zipfile test_signal test_mmap test_socket test_select test_selectors test_pty test_pathlib
test_logging test_compileall test_grp test_pwd test_fcntl test_fileio test_file test_glob test_posixpath
test_genericpath test_stat test_time test_json test_csv test_gzip test_bz2 test_lzma test_zlib
test_hashlib test_resource test_platform test_sysconfig test_uuid test_struct test_filecmp test_fileinput
test_ioctl test_poll test_epoll test_wait4 test_socketserver test_getpass test_locale
test_zipimport test_shlex test_queue test_thread test_threading_local test_dbm test_mailbox test_netrc
test_syslog test_utf8_mode test_cmd_line_script test_multiprocessing_main_handling test_concurrent_futures
""".split()

TIMEOUT = 1200  # seconds per module and mode


def passing(xml_path):
    """Names of the cases that ran and passed, or None when the run left no report."""
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError):
        return None
    names = set()
    for case in root.iter("testcase"):
        if any(child.tag in ("failure", "error", "skipped") for child in case):
            continue
        if case.get("status", "run") != "run":
            continue
        names.add(case.get("name"))
    return names


def bwrap_command():
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for p in ["/bin", "/sbin", "/lib", "/lib64", "/lib32"]:
        if os.path.islink(p):
            cmd += ["--symlink", os.readlink(p), p]
        elif os.path.exists(p):
            cmd += ["--ro-bind", p, p]
    # The host's /etc, read-only, as bubblewrap users usually give it.
    cmd += ["--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--hostname", "wu"]
    return cmd


def run_module(mode, module, xml_path, work, wu):
    """Runs one module in one mode; its junit report lands at xml_path."""
    os.makedirs(os.path.dirname(xml_path), exist_ok=True)
    if os.path.exists(xml_path):
        os.unlink(xml_path)
    nobody = pwd.getpwnam(USER)
    test = [PYTHON, "-m", "test", "--junit-xml"]
    out = tempfile.mkdtemp(dir=work)
    if mode != "wu":
        os.chown(out, nobody.pw_uid, nobody.pw_gid)
    if mode == "host":
        env = ["env", "-i", "PATH=/usr/bin:/bin", "LANG=C.UTF-8", f"HOME={out}", f"TMPDIR={out}"]
        argv = ["runuser", "-u", USER, "--"] + env + test + [f"{out}/report.xml", module]
        cwd = out
    elif mode == "bwrap":
        env = ["env", "-i", "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/tmp", "TMPDIR=/tmp"]
        argv = ["runuser", "-u", USER, "--"] + bwrap_command() + ["--bind", out, "/out", "--chdir", "/tmp"]
        argv += env + test + ["/out/report.xml", module]
        cwd = work
    else:
        argv = [wu, "sandbox", "exec", "--profile", "default", "--memory", "2G", "--cpus", "2", "--wall-time", "30m"]
        argv += ["--out", out, "--env", "TMPDIR=/tmp", "--"] + test + ["/out/report.xml", module]
        cwd = work
    try:
        proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
        log = proc.stdout
    except subprocess.TimeoutExpired as e:
        log = (e.stdout or b"") + b"\nbench-compat: timed out\n"
    with open(xml_path + ".log", "wb") as f:
        f.write(log)
    report = os.path.join(out, "report.xml")
    if os.path.exists(report):
        shutil.copyfile(report, xml_path)
    shutil.rmtree(out, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wu", required=False)
    ap.add_argument("--modes", default="host,bwrap,wu")
    ap.add_argument("--modules", default=" ".join(MODULES))
    ap.add_argument("--results", default=".build/bench-compat")
    a = ap.parse_args()
    modes = a.modes.split(",")
    modules = a.modules.split()
    results = os.path.abspath(a.results)
    work = tempfile.mkdtemp(prefix="wu-compat-")
    os.chmod(work, 0o755)
    wu = os.path.abspath(a.wu) if a.wu else None
    if "wu" in modes and not wu:
        sys.exit("--wu PATH is needed for the wu mode")

    def path(mode, module, attempt):
        return os.path.join(results, mode, f"{module}.{attempt}.xml")

    passed = {}  # (mode, module) -> set of passing case names
    for module in modules:
        for mode in modes:
            p = path(mode, module, 1)
            if passing(p) is None:
                run_module(mode, module, p, work, wu)
            passed[(mode, module)] = passing(p) or set()
        print(f"{module}: " + ", ".join(f"{m} {len(passed[(m, module)])}" for m in modes), flush=True)
        host = passed.get(("host", module), set())
        for mode in modes:
            if mode == "host" or host <= passed[(mode, module)]:
                continue
            # One second chance for this module in this mode, and the same for the host.
            for m in (mode, "host"):
                p = path(m, module, 2)
                if passing(p) is None:
                    run_module(m, module, p, work, wu)
                passed[(m, module)] |= passing(p) or set()
    shutil.rmtree(work, ignore_errors=True)

    lines = []
    host_total = sum(len(passed[("host", m)]) for m in modules)
    version = subprocess.run([PYTHON, "-c", "import platform; print(platform.python_version())"], stdout=subprocess.PIPE, text=True).stdout.strip()
    lines.append(f"CPython {version} regression tests ({PYTHON}), {len(modules)} modules, "
                 f"{host_total} cases pass on the host as {USER}")
    for mode in modes:
        if mode == "host":
            continue
        kept = sum(len(passed[("host", m)] & passed[(mode, m)]) for m in modules)
        share = 100.0 * kept / host_total if host_total else 0.0
        lines.append(f"  {mode:6} {kept}/{host_total} = {share:.2f} % of the host's passing cases pass ({host_total - kept} lost)")
    for mode in modes:
        if mode == "host":
            continue
        lines.append(f"lost under {mode}:")
        for m in modules:
            lost = sorted(passed[("host", m)] - passed[(mode, m)])
            if lost:
                lines.append(f"  {m} ({len(lost)}):")
                lines += [f"    {name}" for name in lost]
    text = "\n".join(lines) + "\n"
    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, "report.txt"), "w") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""t/unit-seccomp.py - run a command under a unit's SystemCallFilter=, as systemd would.

usage: unit-seccomp.py UNIT --print
       unit-seccomp.py UNIT [--deny NAME...] -- COMMAND [ARG...]

The unit's SystemCallFilter= lines are read in order, as systemd reads them:
the first decides between an allow list and a deny list, later lines of the
same kind add to it and lines of the other kind (a leading ~) take away.
@groups are expanded with `systemd-analyze syscall-filter` (the groups of the
systemd installed), so the filter is the one systemd would build on this
system. A refused call gets SystemCallErrorNumber= when the unit sets it,
else the process is killed with SIGSYS, as under systemd. --print prints the
calls allowed, one a line; --deny refuses more (a test of what a refusal
logs). Needs python3-seccomp (the libseccomp binding) to run a command.
"""
import errno
import os
import subprocess
import sys


def expand(name, cache):
    """The system calls of a name or @group."""
    if not name.startswith("@"):
        return {name}
    if name not in cache:
        out = subprocess.run(["systemd-analyze", "syscall-filter", name],
                             check=True, capture_output=True, text=True).stdout
        calls = set()
        for line in out.splitlines()[1:]:
            line = line.strip()
            if line and not line.startswith("#"):
                calls |= expand(line, cache)
        cache[name] = calls
    return cache[name]


def unit_filter(path):
    """(allow list?, set of calls, errno or None) from the unit's [Service] lines."""
    allow, calls, err, cache = None, set(), None, {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        key, _, value = line.partition("=")
        if key == "SystemCallErrorNumber":
            err = getattr(errno, value.strip()) if value.strip() else None
        if key != "SystemCallFilter":
            continue
        value = value.strip()
        if value == "":
            allow, calls = None, set()
            continue
        deny = value.startswith("~")
        names = set()
        for name in value.lstrip("~").split():
            names |= expand(name, cache)
        if allow is None:
            allow = not deny
            if allow:
                calls |= expand("@default", cache)
        if deny == (not allow):
            calls |= names
        else:
            calls -= names
    return allow, calls, err


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    allow, calls, err = unit_filter(argv[1])
    if argv[2] == "--print":
        print("\n".join(sorted(calls)) if allow else "")
        return 0
    rest = argv[2:]
    deny = set()
    while rest and rest[0] == "--deny":
        deny |= expand(rest[1], {})
        rest = rest[2:]
    if not rest or rest[0] != "--" or len(rest) < 2 or not allow:
        sys.exit(__doc__)
    import seccomp

    refuse = seccomp.ERRNO(err) if err is not None else seccomp.KILL_PROCESS
    f = seccomp.SyscallFilter(defaction=refuse)
    for name in sorted(calls - deny):
        try:
            f.add_rule(seccomp.ALLOW, name)
        except (RuntimeError, ValueError, OSError):
            pass        # not a call of this architecture (chown32 on x86_64)
    f.load()
    os.execv(rest[1], rest[1:])
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

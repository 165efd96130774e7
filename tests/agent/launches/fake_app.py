"""A fake application that becomes ready at a known moment, for launch-timing tests and bench.

Run it through a symlink to the Python interpreter with a unique name (see :func:`make_launcher`):
the kernel names the process after the symlink, so its ``comm`` is that name. Standard library
only, because the interpreter behind a bare symlink does not see the virtualenv.

    LAUNCHER fake_app.py MODE --after SECONDS --ready-file FILE [--port N] [--log FILE]
                         [--libraries N] [--child-file FILE]

Modes: ``cpu`` busy-loops then idles; ``libraries`` loads shared objects with ctypes, evenly
spread, the last one at the ready moment; ``port`` listens on 127.0.0.1:PORT; ``log`` appends a
"server ready" line to the log; ``spawn`` starts a child of the same name, then behaves like
``cpu``; ``fail`` busy-loops then exits with status 3; ``never`` idles without becoming ready.
After becoming ready the app idles until terminated (or its parent dies, for children).

The ready moment (``time.time()`` right after the last ready action) is written to FILE.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

READY_LINE = "server ready"


def make_launcher(directory: Path, name: str) -> Path:
    """A symlink named ``name`` (at most 15 characters) to the running Python interpreter."""
    launcher = directory / name
    launcher.symlink_to(sys.executable)
    return launcher


def _busy_until(deadline: float) -> None:
    count = 0
    while time.time() < deadline:
        count += 1


def _idle_forever(parent: int | None = None) -> None:
    while parent is None or os.getppid() == parent:
        time.sleep(0.2 if parent is not None else 3600)


def _write_ready(path: Path) -> None:
    ready = time.time()
    partial = path.with_suffix(".partial")
    partial.write_text(repr(ready))
    partial.replace(path)


def _unloaded_extension_modules() -> list[Path]:
    loaded = Path("/proc/self/maps").read_text()
    dynload = Path(sysconfig.get_paths()["platstdlib"]) / "lib-dynload"
    return [path for path in sorted(dynload.glob("*.so")) if str(path) not in loaded]


def _load_libraries(begin: float, after: float, count: int) -> None:
    libraries = _unloaded_extension_modules()[:count]
    for index, library in enumerate(libraries, start=1):
        time.sleep(max(0.0, begin + after * index / len(libraries) - time.time()))
        ctypes.CDLL(str(library))


def main(argv: list[str]) -> int:
    begin = time.time()
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "mode", choices=["cpu", "libraries", "port", "log", "spawn", "fail", "never", "child"]
    )
    parser.add_argument("--after", type=float, default=0.5)
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--port", type=int)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--libraries", type=int, default=12)
    parser.add_argument("--child-file", type=Path)
    options = parser.parse_args(argv)

    if options.mode == "child":
        _idle_forever(parent=os.getppid())
        return 0
    if options.mode == "never":
        _idle_forever()
        return 0
    if options.mode == "fail":
        _busy_until(begin + options.after)
        return 3
    if options.mode == "spawn":
        child = subprocess.Popen([sys.executable, __file__, "child"])
        options.child_file.write_text(str(child.pid))
        _busy_until(begin + options.after)
    elif options.mode == "cpu":
        _busy_until(begin + options.after)
    elif options.mode == "libraries":
        _load_libraries(begin, options.after, options.libraries)
    elif options.mode == "port":
        time.sleep(max(0.0, begin + options.after - time.time()))
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", options.port))
        listener.listen()
    elif options.mode == "log":
        with options.log.open("a") as log:
            log.write("starting up\n")
        time.sleep(max(0.0, begin + options.after - time.time()))
        with options.log.open("a") as log:
            log.write(f"{READY_LINE}\n")
    _write_ready(options.ready_file)
    _idle_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

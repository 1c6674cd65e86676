#!/usr/bin/env python3
"""Stand-in for a ROS node in the launch-runner tests (standard library only).

It writes ``$FAKE_NODE_OUT/<tag>.json`` with its pid, argv, environment and the text of every
``--params-file``, prints a line on stdout and one on stderr, then behaves as its own arguments
(those before ``--ros-args``) say.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path


def parse_own_args() -> argparse.Namespace:
    argv = sys.argv[1:]
    own = argv[:argv.index("--ros-args")] if "--ros-args" in argv else argv
    parser = argparse.ArgumentParser()
    parser.add_argument("--tag", default=str(os.getpid()))
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--run", action="store_true", help="run until signalled")
    parser.add_argument("--ignore", action="append", default=[], help="INT or TERM")
    parser.add_argument("--grandchild", action="store_true", help="start a child of its own")
    parser.add_argument("--ready-fifo", help="write to this FIFO once signal handlers are set")
    parser.add_argument("--wait-fifo", help="exit only after someone wrote to this FIFO")
    args, _ = parser.parse_known_args(own)
    return args


def params_files(argv: list[str]) -> dict[str, str]:
    return {argv[i + 1]: Path(argv[i + 1]).read_text()
            for i, item in enumerate(argv[:-1]) if item == "--params-file"}


def main() -> None:
    args = parse_own_args()
    grandchild = None
    if args.grandchild:
        grandchild = subprocess.Popen(
            [sys.executable, "-c",
             "import signal; signal.signal(signal.SIGINT, signal.SIG_DFL); signal.pause()"])

    def on_sigint(_signum: int, _frame: object) -> None:
        print("got SIGINT", flush=True)
        if grandchild is not None:
            grandchild.wait()
        sys.exit(0)

    signal.signal(signal.SIGINT, signal.SIG_IGN if "INT" in args.ignore else on_sigint)
    if "TERM" in args.ignore:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    record = {
        "pid": os.getpid(),
        "grandchild_pid": grandchild.pid if grandchild else None,
        "argv": sys.argv,
        "env": dict(os.environ),
        "params_files": params_files(sys.argv),
    }
    out = Path(os.environ["FAKE_NODE_OUT"])
    (out / f"{args.tag}.json.tmp").write_text(json.dumps(record))
    (out / f"{args.tag}.json.tmp").rename(out / f"{args.tag}.json")
    print(f"hello from {args.tag}", flush=True)
    print(f"error line from {args.tag}", file=sys.stderr, flush=True)
    print("READY", flush=True)
    if args.ready_fifo:
        with open(args.ready_fifo, "w") as fifo:
            fifo.write("ready")
    if args.wait_fifo:
        with open(args.wait_fifo) as fifo:
            fifo.read()
    while args.run:
        signal.pause()
    sys.exit(args.exit_code)


if __name__ == "__main__":
    main()

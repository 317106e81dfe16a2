"""Runs the localstripe emulator on loopback only, with its state in a file of our data folder."""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

from aiohttp import web
from localstripe import resources
from localstripe.server import app


def main() -> None:
    """`python -m stack.emulators.localstripe_server --port 8420 [--state FILE]`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--state", type=Path, default=None, help="persist the emulator state here")
    args = parser.parse_args()
    store = resources.store
    state: Path | None = args.state
    if state is not None and state.exists():
        with state.open("rb") as f:
            store.update(pickle.load(f))

    def dump() -> None:
        # localstripe writes /tmp/localstripe.pickle on every change; keep ours in the data folder instead
        if state is not None:
            with state.open("wb") as f:
                pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)

    store.dump_to_disk = dump
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()

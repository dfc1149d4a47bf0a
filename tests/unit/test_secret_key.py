"""The generated secret key: every process that starts at once reads the same one, whole."""

from __future__ import annotations

import multiprocessing
import os
import stat

ROUNDS, WORKERS = 20, 8


def _read_keys(states: list[str], barrier, out) -> None:
    """One worker process: in each round, wait for the others, then read the key of that
    round's (new) state folder, as gunicorn workers starting together do."""
    os.environ.pop("SECRET_KEY", None)
    from app.config import _secret_key

    for state in states:
        os.environ["ATLAS_STATE_DIR"] = state
        barrier.wait()
        out.put((state, _secret_key()))


def test_workers_starting_together_share_one_whole_key(tmp_path):
    # The race is short: try it many times, each in a new folder. The same eight
    # processes run every round (forks are the costly part, not the rounds).
    context = multiprocessing.get_context("fork")
    states = [str(tmp_path / f"state{n}") for n in range(ROUNDS)]
    barrier, out = context.Barrier(WORKERS), context.Queue()
    processes = [context.Process(target=_read_keys, args=(states, barrier, out))
                 for _ in range(WORKERS)]
    for process in processes:
        process.start()
    keys: dict[str, list[str]] = {state: [] for state in states}
    for _ in range(ROUNDS * WORKERS):
        state, key = out.get(timeout=30)
        keys[state].append(key)
    for process in processes:
        process.join(30)
    for n, state in enumerate(states):
        assert len(set(keys[state])) == 1 and len(keys[state][0]) >= 48, (n, keys[state])
        key_file = tmp_path / f"state{n}" / "secret_key"
        assert key_file.read_text().strip() == keys[state][0]
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert [p.name for p in key_file.parent.iterdir()] == ["secret_key"]  # no temporary left

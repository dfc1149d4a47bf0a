"""The generated secret key: every process that starts at once reads the same one, whole."""

from __future__ import annotations

import multiprocessing
import os
import stat


def _read_key(state: str, barrier, out) -> None:
    os.environ.pop("SECRET_KEY", None)
    os.environ["ATLAS_STATE_DIR"] = state
    from app.config import _secret_key

    barrier.wait()
    out.put(_secret_key())


def test_workers_starting_together_share_one_whole_key(tmp_path):
    context = multiprocessing.get_context("fork")
    rounds, workers = 20, 8
    for n in range(rounds):  # the race is short: try it many times, each in a new folder
        state = tmp_path / f"state{n}"
        barrier, out = context.Barrier(workers), context.Queue()
        processes = [context.Process(target=_read_key, args=(str(state), barrier, out))
                     for _ in range(workers)]
        for process in processes:
            process.start()
        keys = [out.get(timeout=30) for _ in processes]
        for process in processes:
            process.join(30)
        assert len(set(keys)) == 1 and len(keys[0]) >= 48, (n, keys)
        key_file = state / "secret_key"
        assert key_file.read_text().strip() == keys[0]
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert [p.name for p in state.iterdir()] == ["secret_key"]  # no temporary left

"""Exclusive run directories (cnnlab.runs.claim): one writer per run, never the user's data."""

import os
import re
import signal
import subprocess
import sys

import pytest

from cnnlab import runs
from cnnlab.errors import CheckpointError, ConfigError

HOLD = (
    "import sys, time; from cnnlab.runs import claim_run_dir; "
    "c = claim_run_dir(sys.argv[1]); print('held', flush=True); time.sleep(120)"
)


def test_a_second_claim_is_refused_naming_the_holder(tmp_path):
    holder = f"another cnnlab run (pid {os.getpid()} "
    with (
        runs.claim_run_dir(tmp_path / "run"),
        pytest.raises(CheckpointError, match=re.escape(holder)),
    ):
        runs.claim_run_dir(tmp_path / "run")
    runs.claim_run_dir(tmp_path / "run").release()  # free again once released


def test_a_claim_held_by_a_killed_process_is_free_again(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CheckpointError, match=f"pid {holder.pid} "):
            runs.claim_run_dir(tmp_path / "run")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    runs.claim_run_dir(tmp_path / "run").release()


def test_a_folder_of_someone_elses_files_is_refused(tmp_path):
    (tmp_path / "config.yaml").write_text("mine: true\n")
    with pytest.raises(ConfigError, match=r"not a cnnlab run .*config\.yaml"):
        runs.check_new_run_dir(tmp_path)


def test_a_run_claimed_but_killed_before_its_first_checkpoint_may_start_again(tmp_path):
    runs.claim_run_dir(tmp_path).release()
    (tmp_path / "config.yaml").write_text("model: lenet5\n")
    (tmp_path / ".last.safetensors.x1.tmp").write_bytes(b"half")
    runs.check_new_run_dir(tmp_path)


@pytest.mark.parametrize("name", ["last.safetensors", "meta.json"])
def test_a_directory_holding_a_run_points_to_resume(tmp_path, name):
    (tmp_path / name).write_text("{}")
    with pytest.raises(ConfigError, match="--resume"):
        runs.check_new_run_dir(tmp_path)


def test_leftovers_of_killed_atomic_writes_are_removed(tmp_path):
    (tmp_path / "figures").mkdir()
    leftovers = [tmp_path / ".meta.json.ab12.tmp", tmp_path / "figures" / ".cm.png.cd34.tmp"]
    kept = [tmp_path / "meta.json", tmp_path / "figures" / "cm.png", tmp_path / "notes.tmp"]
    for path in leftovers + kept:
        path.write_text("x")
    assert sorted(runs.remove_leftovers(tmp_path)) == sorted(leftovers)
    assert all(path.exists() for path in kept)

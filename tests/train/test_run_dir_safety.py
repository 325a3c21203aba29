"""The Trainer and its run directory: exclusive, never the user's files, no lost run."""

import os
import signal
import subprocess
import sys

import pytest
import torch
from tests.cli.helpers import run_cli
from tests.train.conftest import small_digits, small_sgd_config

from cnnlab import Trainer, runs
from cnnlab.errors import CheckpointError


def _train(run_dir, data, **kwargs):
    return Trainer(small_sgd_config(**kwargs), run_dir, data=data, quiet=True)


@pytest.fixture(scope="module")
def data():
    return small_digits(128)


def test_train_refuses_a_folder_that_is_not_a_run_before_writing(capsys, tmp_path):
    (tmp_path / "config.yaml").write_text("my: own config\n")
    code, _, err = run_cli(capsys, "train", "--out", str(tmp_path), "--epochs", "1", "--quiet")
    assert code == 2 and "not a cnnlab run" in err and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]
    assert (tmp_path / "config.yaml").read_text() == "my: own config\n"


class RaceInto:
    """At its first epoch's end, start a second Trainer into the same directory."""

    def __init__(self, data):
        self.data, self.error = data, None

    def on_epoch_end(self, trainer, row):
        with pytest.raises(CheckpointError) as caught:
            _train(trainer.run_dir, self.data, seed=9).fit()
        self.error = str(caught.value)


def test_a_second_trainer_cannot_write_a_run_directory_in_use(tmp_path, data):
    race = RaceInto(data)
    trainer = _train(tmp_path / "run", data, epochs=2)
    trainer.callbacks.append(race)
    trainer.fit()
    assert f"another cnnlab run (pid {os.getpid()} " in race.error
    assert runs.read_config(tmp_path / "run")["seed"] == 3  # the first run's, untouched
    assert [row["epoch"] for row in runs.read_history(tmp_path / "run")] == [1, 2]
    with runs.claim_run_dir(tmp_path / "run"), pytest.raises(CheckpointError, match="pid"):
        Trainer.resume(tmp_path / "run", quiet=True, data=data)


def test_resume_after_a_kill_in_the_final_evaluation_points_to_evaluate(capsys, tmp_path):
    trainer = Trainer(small_sgd_config(), tmp_path / "run", quiet=True)

    def killed(run_dir, split, device):
        raise KeyboardInterrupt

    trainer.task.evaluate = killed
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    code, _, err = run_cli(capsys, "train", "--resume", str(tmp_path / "run"), "--quiet")
    assert code == 2 and f"cnnlab evaluate {tmp_path / 'run'}" in err
    assert run_cli(capsys, "evaluate", str(tmp_path / "run"))[0] == 0
    code, _, err = run_cli(capsys, "train", "--resume", str(tmp_path / "run"), "--quiet")
    assert code == 2 and "larger --epochs" in err


def test_resume_removes_leftovers_and_finishes_an_interrupted_best_save(tmp_path, data):
    run_dir = _train(tmp_path / "run", data).fit()
    meta = runs.read_meta(run_dir)
    best = runs.load_best(run_dir, meta)
    # A save killed between meta.json and the rename: meta names the pending file.
    (run_dir / runs.BEST).rename(run_dir / runs.layout.BEST_PENDING)
    runs.save_weights(run_dir / runs.BEST, torch.nn.Linear(1, 1))
    leftovers = [run_dir / ".last.safetensors.k1ll.tmp", run_dir / "figures" / ".a.png.k2.tmp"]
    for path in leftovers:
        path.write_bytes(b"half-written")
    Trainer.resume(run_dir, epochs=2, quiet=True, data=data).fit()
    assert not any(path.exists() for path in leftovers)
    assert not (run_dir / runs.layout.BEST_PENDING).exists()
    meta = runs.read_meta(run_dir)
    runs.load_weights(run_dir / runs.BEST, meta["weights_sha256"])  # consistent again
    assert set(best) == set(runs.load_best(run_dir, meta))


def test_resume_of_a_run_killed_before_its_first_checkpoint_says_to_start_again(tmp_path):
    runs.claim_run_dir(tmp_path / "run").release()
    (tmp_path / "run" / "config.yaml").write_text("epochs: 1\n")
    with pytest.raises(CheckpointError, match="Start it again with `cnnlab train --out"):
        Trainer.resume(tmp_path / "run")
    runs.check_new_run_dir(tmp_path / "run")  # and the same --out is accepted again
    (tmp_path / "run" / ".config.yaml.k1ll.tmp").write_text("half")
    _train(tmp_path / "run", small_digits(64)).fit()
    assert not list((tmp_path / "run").glob(".*.tmp"))


KILL_AT_REPLACE = """
import os, signal, sys
from cnnlab.cli import main
calls, real = [0], os.replace
def replace(src, dst):
    calls[0] += 1
    if calls[0] == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)  # a kill right before this write lands
    return real(src, dst)
os.replace = replace
sys.exit(main(sys.argv[2:]))
"""
TRAIN = ["--model", "simple_cnn", "--epochs", "2", "--seed", "5", "--augment", "", "--quiet"]


def _cli(*argv, kill_at=0):
    """``cnnlab *argv`` in a child process, killed (SIGKILL) before its ``kill_at``-th
    file lands; one thread, so that its arithmetic is the same in every process."""
    return subprocess.run(
        [sys.executable, "-c", KILL_AT_REPLACE, str(kill_at), *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    assert _cli("train", "--out", str(out), *TRAIN).returncode == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", range(1, 23))
def test_a_kill_at_any_write_resumes_to_the_uninterrupted_weights(
    capsys, tmp_path, whole_run, kill_at
):
    killed = _cli("train", "--out", str(tmp_path / "cut"), *TRAIN, kill_at=kill_at)
    if killed.returncode == 0:
        pytest.skip(f"the run makes fewer than {kill_at} writes")
    assert killed.returncode == -signal.SIGKILL
    resumed = _cli("train", "--resume", str(tmp_path / "cut"), "--quiet")
    if not (tmp_path / "cut" / runs.LAST).exists():  # killed before its first checkpoint
        assert "Start it again" in resumed.stderr
        assert _cli("train", "--out", str(tmp_path / "cut"), *TRAIN).returncode == 0
    if not runs.evaluation_finished(tmp_path / "cut"):
        assert run_cli(capsys, "evaluate", str(tmp_path / "cut"))[0] == 0
    whole = runs.load_state(whole_run / runs.LAST)["model"]
    cut = runs.load_state(tmp_path / "cut" / runs.LAST)["model"]
    for key in whole:
        torch.testing.assert_close(cut[key], whole[key], rtol=0, atol=0)
    meta = runs.read_meta(tmp_path / "cut")
    runs.load_best(tmp_path / "cut", meta)
    assert not list((tmp_path / "cut").glob(".*.tmp"))


@pytest.mark.slow
def test_two_train_commands_started_together_leave_one_complete_run(tmp_path):
    command = [sys.executable, "-m", "cnnlab", "train", "--out", str(tmp_path / "run")]
    command += ["--model", "simple_cnn", "--epochs", "1", "--quiet"]
    processes = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(), p.stderr.read()) for p in processes]
    assert sorted(code for code, _ in results) == [0, 2]
    assert any("another cnnlab run" in err or "already holds a run" in err for _, err in results)
    Trainer.resume(tmp_path / "run", epochs=2, quiet=True).fit()

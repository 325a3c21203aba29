"""Random search and regularized evolution over cells, under a wall-time budget.

* Random search draws every candidate independently from the search space
  (the baseline of Real et al. 2019, Sec. 4 and Fig. 3).
* Regularized evolution (Real et al. 2019, Algorithm 1): a population of P
  random candidates is evaluated; then, repeatedly, S candidates are drawn from
  the population at random, the most accurate of them is mutated
  (`mutate`), the child is evaluated and
  joins the population, and the *oldest* candidate leaves it ("aging"), not
  the worst.

A search stops starting new candidates once ``budget`` seconds of training
have been spent (or after ``max_candidates``).  Every candidate is appended to
``candidates.jsonl`` in the output folder (genotype, accuracy, parameters,
seconds), the whole file rewritten atomically each time (`cnnlab.fileio`),
so a crash loses at most the candidate being trained.  Given the seed, the
sequence of candidates is deterministic; running the search again on the same
folder replays the recorded candidates instead of training them again and
continues from there, with the time they took counted against the budget.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.errors import CheckpointError, ConfigError, check_choice
from cnnlab.fileio import write_json, write_text
from cnnlab.models.nasnet_genotype import Genotype
from cnnlab.nas.space import SearchSpace

STRATEGIES = ("random", "evolution")
CANDIDATES_FILE = "candidates.jsonl"
SUMMARY_FILE = "search.json"

Evaluate = Callable[[Genotype, int], tuple[float, int]]  # (genotype, index) -> accuracy, params


@dataclass(frozen=True)
class Candidate:
    """One evaluated architecture, a line of ``candidates.jsonl``."""

    index: int
    genotype: Genotype
    accuracy: float
    params: int
    seconds: float
    parent: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "accuracy": self.accuracy,
            "params": self.params,
            "seconds": round(self.seconds, 4),
            "parent": self.parent,
            "genotype": self.genotype.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        return cls(
            int(data["index"]),
            Genotype.from_dict(data["genotype"]),
            float(data["accuracy"]),
            int(data["params"]),
            float(data["seconds"]),
            data.get("parent"),
        )


@dataclass(frozen=True)
class SearchConfig:
    """Strategy, budget and seed of a search; P and S of regularized evolution."""

    strategy: str = "evolution"
    budget: float = 60.0
    seed: int = 0
    population: int = 8
    sample_size: int = 3
    max_candidates: int | None = None

    def __post_init__(self) -> None:
        check_choice("search strategy", self.strategy, STRATEGIES)
        if not (math.isfinite(self.budget) and self.budget > 0):  # nan would never be spent
            raise ConfigError(f"budget must be a finite number of seconds > 0, got {self.budget}.")
        if not 1 <= self.sample_size <= self.population:
            raise ConfigError(
                f"Regularized evolution needs 1 <= sample_size <= population, got "
                f"sample_size={self.sample_size}, population={self.population}."
            )
        if self.max_candidates is not None and self.max_candidates < 1:
            raise ConfigError(f"max_candidates must be >= 1, got {self.max_candidates}.")


def check_out_dir(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path, refused with a `ConfigError` when it is not a folder.

    Called before the data are loaded, so a wrong ``--out`` fails before the search, not after.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(
            f"--out {out_dir} is a file; the search needs a folder. Pass another --out."
        )
    return out_dir


class SearchLog:
    """The candidates of a search folder: read on start, rewritten atomically on each add."""

    def __init__(self, out_dir: str | Path):
        self.path = check_out_dir(out_dir) / CANDIDATES_FILE
        self.candidates: list[Candidate] = []
        if self.path.exists():
            self.candidates = self._read()

    def _read(self) -> list[Candidate]:
        candidates = []
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            try:
                candidates.append(Candidate.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError, ConfigError) as exc:
                raise CheckpointError(
                    f"{self.path}, line {number}, is not a candidate record ({exc}). Remove the "
                    "file to start the search afresh."
                ) from exc
        return candidates

    def add(self, candidate: Candidate) -> None:
        self.candidates.append(candidate)
        text = "".join(json.dumps(c.to_dict()) + "\n" for c in self.candidates)
        write_text(self.path, text)


class _Runner:
    """Evaluates candidates in order, replaying those already in the log, within budget."""

    def __init__(self, config: SearchConfig, log: SearchLog, evaluate: Evaluate):
        self.config, self.log, self.evaluate = config, log, evaluate
        self.history: list[Candidate] = []
        self._spent = 0.0  # seconds of the replayed candidates
        self._start = time.perf_counter()

    def elapsed(self) -> float:
        return self._spent + time.perf_counter() - self._start

    def exhausted(self) -> bool:
        limit = self.config.max_candidates
        return self.elapsed() >= self.config.budget or (
            limit is not None and len(self.history) >= limit
        )

    def run(self, genotype: Genotype, parent: int | None = None) -> Candidate:
        index = len(self.history)
        if index < len(self.log.candidates):
            candidate = self.log.candidates[index]
            if candidate.genotype != genotype:
                raise CheckpointError(
                    f"{self.log.path} records another candidate {index} than this search draws: "
                    "it was written with another seed, strategy or search space. Use another "
                    "output folder or the original settings."
                )
            self._spent += candidate.seconds
        else:
            start = time.perf_counter()
            accuracy, params = self.evaluate(genotype, index)
            candidate = Candidate(
                index, genotype, accuracy, params, time.perf_counter() - start, parent
            )
            self.log.add(candidate)
        self.history.append(candidate)
        return candidate


def random_search(space: SearchSpace, runner: _Runner, rng: random.Random) -> Iterator[Candidate]:
    """Independent random candidates until the budget is spent."""
    while not runner.exhausted():
        yield runner.run(space.sample(rng))


def regularized_evolution(
    space: SearchSpace, runner: _Runner, rng: random.Random
) -> Iterator[Candidate]:
    """Real et al. (2019), Algorithm 1: tournament selection, mutation, aging."""
    population: deque[Candidate] = deque()
    while len(population) < runner.config.population and not runner.exhausted():
        population.append(runner.run(space.sample(rng)))
        yield population[-1]
    while not runner.exhausted():
        sample = rng.sample(list(population), runner.config.sample_size)
        parent = max(sample, key=lambda c: c.accuracy)
        child = runner.run(space.mutate(parent.genotype, rng), parent=parent.index)
        population.append(child)
        population.popleft()  # the oldest dies
        yield child


def run_search(
    space: SearchSpace,
    config: SearchConfig,
    evaluate: Evaluate,
    out_dir: str | Path,
    progress: Callable[[Candidate], None] | None = None,
) -> list[Candidate]:
    """Search ``space`` with ``config.strategy``; every candidate is logged in ``out_dir``.

    Parameters
    ----------
    evaluate
        ``(genotype, index) -> (accuracy, params)``; trains and scores one candidate.
    out_dir
        folder of ``candidates.jsonl`` (resumed when present) and ``search.json``.
    progress
        called with each candidate (evaluated or replayed).

    Returns
    -------
    list of Candidate
        All candidates in the order they were drawn.
    """
    out_dir = Path(out_dir)
    runner = _Runner(config, SearchLog(out_dir), evaluate)
    rng = random.Random(config.seed)
    strategy = random_search if config.strategy == "random" else regularized_evolution
    for candidate in strategy(space, runner, rng):
        if progress is not None:
            progress(candidate)
    if not runner.history:
        raise ConfigError(
            f"The budget of {config.budget} s was spent before any candidate was evaluated."
        )
    best = max(runner.history, key=lambda c: c.accuracy)
    write_json(
        out_dir / SUMMARY_FILE,
        {
            "strategy": config.strategy,
            "seed": config.seed,
            "budget": config.budget,
            "population": config.population,
            "sample_size": config.sample_size,
            "operations": list(space.operations),
            "blocks": space.blocks,
            "candidates": len(runner.history),
            "best": best.to_dict(),
        },
    )
    return runner.history

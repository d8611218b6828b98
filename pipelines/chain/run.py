"""`clinic-analytics chain`: every clinic as a partition of `clinic_warehouse`, at most
`chain_parallel` at once, then `chain_view`.

Without a Dagster daemon there is no run queue to bound parallel runs, so the bound is
a process pool of `chain_parallel` workers (spawned: no forked Dagster state), each
running one partition's in-process `materialize` at a time: what Dagster's own
multiprocess executor and run launcher do (a process per unit of work, at most N at
once). There is no scheduling in it: no retries, no ordering beyond the clinics' names,
no dependencies (the chain view runs after every clinic has finished). Separate
processes also keep one clinic's crash its own, and each build's DuckDB within its
share of `chain_memory_budget`.
"""

from __future__ import annotations

import multiprocessing
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import dagster as dg

from pipelines.chain.build import failure_line
from pipelines.chain.clinics import CHAIN_FILE, chain_paths, find_clinics
from pipelines.chain.outcome import Outcome, now, read_outcome
from pipelines.chain.view import ChainView, read_chain_view
from pipelines.defs.clinics import chain_view, clinic_partitions, clinic_warehouse
from pipelines.settings import Settings

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
"""The runs' own log is the clinic build's log file; nothing on the terminal."""


@dataclass(frozen=True)
class ChainRun:
    outcomes: list[Outcome]
    view: ChainView | None
    """None when the chain view could not be built (`view_error` says why)."""
    refused: dict[str, str] = field(default_factory=dict)
    view_error: str | None = None

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


def build_chain(
    chain: Settings, report: Callable[[Outcome], None] = lambda outcome: None
) -> ChainRun:
    """Build every clinic (calling `report` as each finishes), then the chain view."""
    root, _ = chain_paths(chain)
    folders = find_clinics(root)
    clinics = list(folders.clinics)
    outcomes: list[Outcome] = []
    if chain.chain_parallel == 1 or len(clinics) <= 1:
        for clinic in clinics:
            outcomes.append(materialize_clinic(chain, clinic))
            report(outcomes[-1])
    else:
        with ProcessPoolExecutor(
            max_workers=min(chain.chain_parallel, len(clinics)),
            mp_context=multiprocessing.get_context("spawn"),
        ) as pool:
            futures = [pool.submit(materialize_clinic, chain, clinic) for clinic in clinics]
            for future in as_completed(futures):
                outcomes.append(future.result())
                report(outcomes[-1])
    outcomes.sort(key=lambda o: o.clinic)
    try:
        return ChainRun(outcomes, materialize_chain_view(chain), folders.refused)
    except Exception as exc:
        return ChainRun(outcomes, None, folders.refused, failure_line(exc))


def materialize_clinic(chain: Settings, clinic: str) -> Outcome:
    """One partition of `clinic_warehouse`, in this process, on a throwaway instance."""
    started = now()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(clinic_partitions.name, [clinic])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = dg.materialize(
            [clinic_warehouse],
            partition_key=clinic,
            instance=instance,
            resources={"settings": chain},
            raise_on_error=False,
            run_config=QUIET,
        )
    _, out = chain_paths(chain)
    outcome = read_outcome(out, clinic)
    if outcome is None or outcome.finished_at < started:  # no build was attempted
        message = f"the Dagster run failed before the build began (run {result.run_id})"
        return Outcome(clinic, False, now(), 0.0, message)
    return outcome


def materialize_chain_view(chain: Settings) -> ChainView:
    """`chain_view`, in this process; its error, if any, is raised as it was."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dg.materialize(
                [clinic_warehouse, chain_view],
                selection=[chain_view],
                instance=dg.DagsterInstance.ephemeral(),
                resources={"settings": chain},
                run_config=QUIET,
            )
        except dg.DagsterExecutionStepExecutionError as exc:
            raise (exc.__cause__ or exc) from None
    _, out = chain_paths(chain)
    return read_chain_view(out / CHAIN_FILE)

"""Where the scheduler keeps its jobs: APScheduler's SQLAlchemy job store, with references that
follow the code.

A stored job names its function by module path. Before 0.2 the bridge's modules were top-level
packages (`scheduler.jobs:purge_button_state`); they now live in `ccin_bridge`. APScheduler
drops a job it cannot import, losing its next run time, so old references are read as the new
ones: `service.register` then sees the job unchanged, keeps its next run time and stores it
again under the new reference.
"""

from __future__ import annotations

import pickle
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import inspect

JOB_TABLE = "apscheduler_jobs"  # excluded from Alembic's drift check (store.db.managed_by_orm)
PACKAGE = "ccin_bridge"
# Top-level packages before the move into `ccin_bridge` (jobs only ever named `scheduler.…`).
# A 0.1 process cannot read the rewritten jobs: going back to 0.1 is not supported.
MOVED_PACKAGES = ("scheduler", "handlers", "store", "bots")


def current_ref(ref: str) -> str:
    """A stored function reference as it reads today."""
    module = ref.partition(":")[0]
    if module.split(".")[0] in MOVED_PACKAGES:
        return f"{PACKAGE}.{ref}"
    return ref


class BridgeJobStore(SQLAlchemyJobStore):  # type: ignore[misc]  # APScheduler 3 has no types
    def __init__(self, url: str) -> None:
        super().__init__(url=url, tablename=JOB_TABLE)

    def _reconstitute_job(self, job_state: bytes) -> Job:
        # Written by APScheduler itself, in the bridge's own database.
        state: dict[str, Any] = pickle.loads(job_state)
        if isinstance(state.get("func"), str) and current_ref(state["func"]) != state["func"]:
            state["func"] = current_ref(state["func"])
            job_state = pickle.dumps(state, self.pickle_protocol)
        return super()._reconstitute_job(job_state)

    def stored(self) -> list[Job] | None:
        """Every stored job without starting a scheduler, or None if none was ever stored."""
        if not inspect(self.engine).has_table(JOB_TABLE):
            return None
        return self.get_all_jobs()  # type: ignore[no-any-return]

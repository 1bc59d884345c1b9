"""One background task of a process: started once, cancelled and awaited on stop."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod

__all__ = ["BackgroundLoop"]


class BackgroundLoop(ABC):
    """A loop running in its own task (sweepers, the cron scheduler).

    Subclasses implement :meth:`_run` and name the task with :attr:`task_name`.
    """

    task_name = "graphwright-background"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the background task (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        """Cancel the background task and wait until it has stopped."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        """Whether the background task is alive."""
        return self._task is not None and not self._task.done()

    @abstractmethod
    async def _run(self) -> None:
        """The loop; runs until cancelled."""

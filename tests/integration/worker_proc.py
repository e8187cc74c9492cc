"""A worker in its own process, for tests that kill it: ``python -m
tests.integration.worker_proc '<config as JSON>'``. Prints ``ready`` once it has its partitions."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from streams.config import parse_config
from streams.worker import Worker


async def main(raw: str) -> None:
    import logging
    import os

    logging.basicConfig(level=logging.WARNING)
    cfg = parse_config(json.loads(raw), os.environ)
    worker = Worker(cfg)
    await worker.start()
    await worker.wait_ready()
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    runner = asyncio.create_task(worker.run())
    await asyncio.wait(
        [runner, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    await worker.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))

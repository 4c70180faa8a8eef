"""HAClient.shutdown ends the client even when a cancellation is lost: Python 3.11's
asyncio.wait_for returns (or raises) the awaited read's outcome instead of CancelledError when
both arrive together. The nemesis suite hit it: a slave told to become master was connecting to
the old master as that one reset the connection; the HA client kept reconnecting, the broker
never finished becoming master, and the set had no master for good."""

import asyncio

from pocketmq.config import MessageStoreConfig
from pocketmq.store.ha.client import HAClient


def test_shutdown_ends_a_task_that_swallowed_the_first_cancellation() -> None:
    async def main() -> None:
        client = HAClient(None, MessageStoreConfig(), lambda: None)  # type: ignore[arg-type]
        swallowed = []

        async def stubborn() -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                swallowed.append(True)  # as wait_for does when the read ended at the same moment
            await asyncio.sleep(3600)

        client._task = asyncio.get_running_loop().create_task(stubborn())
        await asyncio.sleep(0)
        await asyncio.wait_for(client.shutdown(), 5)
        assert swallowed == [True] and client._task is None

    asyncio.run(main())


def test_a_stopped_client_does_not_reconnect() -> None:
    async def main() -> None:
        asked = []
        client = HAClient(None, MessageStoreConfig(), lambda: asked.append(1) or None)  # type: ignore[arg-type]
        client.start()
        await asyncio.sleep(0.05)
        await asyncio.wait_for(client.shutdown(), 5)
        count = len(asked)
        await asyncio.sleep(0.05)
        assert len(asked) == count

    asyncio.run(main())

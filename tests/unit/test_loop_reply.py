"""LoopReply: a shard's thread answers a coroutine's future through its event loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from paystate.engine.mailbox import LoopReply


def test_an_answer_from_another_thread_reaches_the_awaiting_coroutine() -> None:
    async def main() -> object:
        ok, failing = LoopReply(asyncio.get_running_loop()), LoopReply(asyncio.get_running_loop())
        threading.Thread(target=lambda: (ok.set_result(42),
                                         failing.set_exception(KeyError("x")))).start()
        got = await asyncio.wait_for(ok.future, 5)
        with pytest.raises(KeyError):
            await asyncio.wait_for(failing.future, 5)
        return got
    assert asyncio.run(main()) == 42


def test_a_cancelled_waiter_or_a_closed_loop_does_not_fail_the_shard() -> None:
    async def cancelled() -> LoopReply:
        reply = LoopReply(asyncio.get_running_loop())
        reply.future.cancel()
        reply.set_result("late")  # completed after its request went away: dropped
        await asyncio.sleep(0)
        assert reply.future.cancelled() and reply.done()
        return reply
    asyncio.run(cancelled())

    loop = asyncio.new_event_loop()
    reply = LoopReply(loop)
    loop.close()
    reply.set_exception(RuntimeError("the shard is stopping"))  # must not raise
    assert reply.done()

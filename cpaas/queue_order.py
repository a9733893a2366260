"""The order in which a worker on the Redis broker takes from its queues
(docs/ARCHITECTURE.md#processes).

kombu's Redis transport asks for the next task with one ``BRPOP`` over the worker's queues,
which returns from the first non-empty one it names. Its default rotates the queue just
used to the end, so every queue gets its turn; a customer's text then waited for every
other queue's turn as well as for a free process, and during a campaign each of those
turns was a batch of sends. Here the queues customers wait on come first, always; the
others keep kombu's rotation behind them. A flood of customers' texts cannot starve the
rest for long: a tenant's texts are drained by one task at a time.
"""

from kombu.utils.scheduling import round_robin_cycle

# The queues a customer waits on, most urgent first: their texts, then single sends
# (replies, API sends).
INTERACTIVE = ("inbound", "outbound")


class InteractiveFirst(round_robin_cycle):
    """``queue_order_strategy`` for kombu's Redis transport (a dotted path to this class)."""

    def consume(self, n: int) -> list[str]:
        queues = self.items[:n]
        return ([queue for queue in INTERACTIVE if queue in queues]
                + [queue for queue in queues if queue not in INTERACTIVE])

"""Critical-path list scheduling of generations under per-pool concurrency and daily caps.

Every generation runs in a *pool*: the set of tasks that share one concurrency limit and one
daily cap (for the Runway API, one model of one project, with the limits of its tier's group
or the live organization's numbers).  The scheduler is an event simulation: whenever a slot of
a pool is free, the ready generation of that pool with the longest path to the end of the
graph (its *bottom level*, its own latency included) starts; ties go to spec order.

Daily caps are a rolling 24-hour window, as the API counts them: a pool never has more than
``max_daily`` starts in any window ``(t - 24 h, t]``.  Generations already made in the past
day (``used_today``, from the live organization) are counted as if made at time 0, which is
conservative.

The lower bound every schedule must respect is the largest of the critical path (longest
dependency chain of latencies), every pool's work divided by its slots, and, for a pool whose
daily cap binds, the day its last start can come at the earliest plus its shortest latency.
The work bound is sharpened with the graph around the pool: a set of its generations cannot
start before the earliest *head* among them (the longest chain of latencies before one), needs
its work divided by the slots, and leaves at least the shortest *tail* among them (the longest
chain after one).  Taking the sets of the generations whose head, or whose tail, is at least a
given value is one sort per pool, so the bound stays O(n log n).

A node without a pool is a *join*: it takes no time and no slot, and is done the moment its
predecessors are, so that "every item of B waits for every item of A" is |A| + |B| edges
through one join, not |A| × |B|.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["DAY", "Limits", "PoolUsage", "Schedule", "Slot", "schedule"]

DAY = 86_400.0
"""Seconds in the rolling window of a daily cap."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Concurrency slots and daily generation cap of one pool."""

    max_concurrent: int
    max_daily: int
    used_today: int = 0


@dataclass(frozen=True, slots=True)
class Slot:
    """Where and when one generation runs: its pool, slot number, start and end in seconds."""

    key: str
    pool: str
    slot: int
    start: float
    end: float

    @property
    def day(self) -> int:
        """The 24-hour period (0-based, from the plan's start) in which it starts."""
        return int(self.start // DAY)


@dataclass(frozen=True, slots=True)
class PoolUsage:
    """How much one pool is asked to do, and what that alone forces."""

    pool: str
    limits: Limits
    generations: int
    work: float
    days: int
    bound: float


@dataclass
class Schedule:
    """A schedule and the figures it is judged by."""

    slots: dict[str, Slot]
    makespan: float
    critical_path: list[str]
    critical_path_seconds: float
    lower_bound: float
    pools: dict[str, PoolUsage] = field(default_factory=dict)

    @property
    def days(self) -> int:
        """Days the daily caps force (1 when they do not bind, 0 for an empty plan)."""
        return max((usage.days for usage in self.pools.values()), default=0)


def _bottom_levels(
    order: Sequence[str], succ: Mapping[str, Sequence[str]], durations: Mapping[str, float]
) -> tuple[dict[str, float], dict[str, str | None]]:
    level: dict[str, float] = {}
    after: dict[str, str | None] = {}
    for key in reversed(order):
        best, best_next = 0.0, None
        for child in succ[key]:
            if level[child] > best:
                best, best_next = level[child], child
        level[key] = durations.get(key, 0.0) + best
        after[key] = best_next
    return level, after


def _topological_order(succ: Mapping[str, list[str]], in_degree: Mapping[str, int]) -> list[str]:
    """Kahn's order in waves, in node order within a wave (stable: spec order).

    The order ``graphlib.TopologicalSorter.static_order`` gives, without its cycle search
    on every call.
    """
    left = dict(in_degree)
    wave = [key for key, count in left.items() if count == 0]
    order: list[str] = []
    while wave:
        order.extend(wave)
        following: list[str] = []
        for key in wave:
            for child in succ[key]:
                left[child] -= 1
                if left[child] == 0:
                    following.append(child)
        wave = following
    if len(order) < len(succ):
        raise ValueError("the graph has a dependency cycle; validate it before planning")
    return order


def _heads(
    order: Sequence[str], succ: Mapping[str, Sequence[str]], durations: Mapping[str, float]
) -> dict[str, float]:
    """The longest chain of latencies before each node (0 for a source)."""
    head = dict.fromkeys(order, 0.0)
    for key in order:
        end = head[key] + durations.get(key, 0.0)
        for child in succ[key]:
            if end > head[child]:
                head[child] = end
    return head


def _surrounded_work(tasks: list[tuple[float, float, float]], slots: int) -> float:
    """Largest head + work / slots + tail over the sets of ``tasks`` (head, latency, tail)
    whose head, or whose tail, is at least a threshold: what the pool forces in its graph
    (a set smaller than the slots needs at least its mean latency)."""
    best = 0.0
    for first, last in ((0, 2), (2, 0)):
        work, least = 0.0, math.inf
        for count, task in enumerate(sorted(tasks, key=lambda t: t[first], reverse=True), 1):
            work += task[1]
            least = min(least, task[last])
            best = max(best, task[first] + work / min(slots, count) + least)
    return best


def _pool_usage(name: str, limits: Limits, tasks: list[tuple[float, float, float]]) -> PoolUsage:
    cap = max(limits.max_daily, 1)
    count = len(tasks)
    work = sum(task[1] for task in tasks)
    total = count + min(limits.used_today, cap)
    days = -(-total // cap) if count else 0
    bound = _surrounded_work(tasks, max(limits.max_concurrent, 1))
    if count and total > cap:
        bound = max(bound, ((total - 1) // cap) * DAY + min(task[1] for task in tasks))
    return PoolUsage(name, limits, count, work, days, bound)


def schedule(
    nodes: Iterable[str],
    edges: Iterable[tuple[str, str]],
    durations: Mapping[str, float],
    pools: Mapping[str, str],
    limits: Mapping[str, Limits],
) -> Schedule:
    """Schedule every node of the DAG of ``nodes`` and ``edges`` (producer, consumer).

    ``durations`` gives each node's latency in seconds, ``pools`` its pool (a node with none
    is a join: no time, no slot), ``limits`` each pool's :class:`Limits` (a concurrency or cap
    below 1 is taken as 1).  Nodes start in a topological order (the order of ``nodes`` among
    independent ones); the result respects every edge, every pool's concurrency and its rolling
    daily cap.  The work is O((nodes + edges) log nodes), whatever the limits say; a latency
    that is negative or not finite is a ``ValueError``.
    """
    succ: dict[str, list[str]] = {key: [] for key in nodes}
    for key in succ:
        if key in pools and not 0 <= durations[key] < math.inf:  # NaN too: it would never end
            raise ValueError(f"the latency of {key} is not a finite number of seconds")
    in_degree = dict.fromkeys(succ, 0)
    for source, target in edges:
        succ[source].append(target)
        in_degree[target] += 1
    order = _topological_order(succ, in_degree)
    position = {key: i for i, key in enumerate(order)}
    span = {key: durations[key] for key in succ if key in pools}  # a join takes no time
    level, after = _bottom_levels(order, succ, span)
    waiting = dict(in_degree)

    head = _heads(order, succ, span)
    by_pool: dict[str, list[tuple[float, float, float]]] = {}
    for key in order:
        if key in pools:
            task = (head[key], durations[key], level[key] - durations[key])
            by_pool.setdefault(pools[key], []).append(task)
    usage = {name: _pool_usage(name, limits[name], tasks) for name, tasks in by_pool.items()}

    ready: dict[str, list[tuple[float, int, str]]] = {name: [] for name in by_pool}
    free: dict[str, list[int]] = {  # no more slots than tasks, whatever the limit says
        name: list(range(min(max(limits[name].max_concurrent, 1), len(tasks))))
        for name, tasks in by_pool.items()
    }
    carried = {  # starts of the past day, counted at time 0
        name: min(limits[name].used_today, max(limits[name].max_daily, 1)) for name in by_pool
    }
    window: dict[str, deque[float]] = {name: deque() for name in by_pool}
    capped = {  # pools whose cap can bind at all; the others need no window
        name
        for name, tasks in by_pool.items()
        if len(tasks) + carried[name] > max(limits[name].max_daily, 1)
    }
    wake_at: dict[str, float] = {}
    events: list[tuple[float, int, str]] = []  # (time, 0 = finish / 1 = wake, key or pool)
    slots: dict[str, Slot] = {}
    touched: set[str] = set()

    def release(key: str, now: float) -> None:
        pool = pools.get(key)
        if pool is None:
            finish(key, now)
            return
        heapq.heappush(ready[pool], (-level[key], position[key], key))
        touched.add(pool)

    def finish(key: str, now: float) -> None:
        for child in succ[key]:
            waiting[child] -= 1
            if waiting[child] == 0:
                release(child, now)

    def start_ready(pool: str, now: float) -> None:
        queue, open_slots, starts = ready[pool], free[pool], window[pool]
        cap = max(limits[pool].max_daily, 1)
        binds = pool in capped
        while queue and open_slots:
            if binds:
                while starts and starts[0] + DAY <= now:
                    starts.popleft()
                earlier = carried[pool] if now < DAY else 0
                if len(starts) + earlier >= cap:
                    wake = DAY if earlier else starts[0] + DAY
                    if wake_at.get(pool) != wake:
                        wake_at[pool] = wake
                        heapq.heappush(events, (wake, 1, pool))
                    return
                starts.append(now)
            _, _, key = heapq.heappop(queue)
            slot = heapq.heappop(open_slots)
            end = now + durations[key]
            slots[key] = Slot(key, pool, slot, now, end)
            heapq.heappush(events, (end, 0, key))

    for key in [key for key in order if in_degree[key] == 0]:
        release(key, 0.0)
    for pool in by_pool:
        start_ready(pool, 0.0)
    touched.clear()
    while events:
        now = events[0][0]
        while events and events[0][0] == now:
            _, kind, name = heapq.heappop(events)
            if kind == 1:
                touched.add(name)
                continue
            heapq.heappush(free[pools[name]], slots[name].slot)
            touched.add(pools[name])
            finish(name, now)
        for pool in sorted(touched):
            start_ready(pool, now)
        touched.clear()

    makespan = max((slot.end for slot in slots.values()), default=0.0)
    path: list[str] = []
    if order:
        node: str | None = max(order, key=lambda k: (level[k], -position[k]))
        while node is not None:
            path.append(node)
            node = after[node]
    path = [key for key in path if key in pools]
    critical = sum(durations[key] for key in path)
    bound = max([critical, *(u.bound for u in usage.values())])
    return Schedule(
        slots=slots,
        makespan=makespan,
        critical_path=path,
        critical_path_seconds=critical,
        lower_bound=bound,
        pools=usage,
    )

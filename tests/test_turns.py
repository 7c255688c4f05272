import threading
import time

from core.turns import TurnLock


def test_turns_are_served_in_order_and_report_queue_position():
    lock = TurnLock()
    first = lock.take()
    second, third = lock.take(), lock.take()
    assert (lock.ahead(first), lock.ahead(second), lock.ahead(third)) == (0, 1, 2)
    lock.release(first)
    assert lock.ahead(second) == 0 and lock.ahead(third) == 1


def test_giving_up_a_place_lets_the_next_one_go():
    lock = TurnLock()
    a, b, c = lock.take(), lock.take(), lock.take()
    lock.release(b)  # the person behind the running one left
    assert lock.ahead(c) == 1
    lock.release(a)
    assert lock.ahead(c) == 0 and len(lock) == 1


def test_only_one_holder_at_a_time_across_threads():
    lock, running, peak, order = TurnLock(), [0], [0], []

    def worker(i):
        ticket = lock.take()
        try:
            ahead = lock.ahead(ticket)
            while ahead:
                ahead = lock.wait(ticket, ahead, timeout=0.05)
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            order.append(i)
            time.sleep(0.01)
            running[0] -= 1
        finally:
            lock.release(ticket)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak[0] == 1 and sorted(order) == list(range(8)) and len(lock) == 0


def test_wait_reports_a_change_that_happened_before_it_was_called():
    lock = TurnLock()
    a, b, c = lock.take(), lock.take(), lock.take()
    told = lock.ahead(c)  # 2 ahead, told to the person
    lock.release(a)  # changes before the next wait() call
    start = time.perf_counter()
    assert lock.wait(c, told, timeout=5) == 1
    assert time.perf_counter() - start < 1  # returned at once, not after the timeout
    lock.release(b)
    assert lock.wait(c, 1, timeout=5) == 0


def test_a_lock_with_slots_lets_that_many_hold_it_and_queues_the_rest():
    lock, running, peak, guard = TurnLock(slots=3), [0], [0], threading.Lock()
    tickets = [lock.take() for _ in range(5)]
    assert [lock.ahead(t) for t in tickets] == [0, 0, 0, 1, 2]
    lock.release(tickets[1])  # one of the holders finishes: the first in line holds it now
    assert [lock.ahead(t) for t in tickets[3:]] == [0, 1]
    for t in tickets:
        lock.release(t)

    def worker():
        ticket = lock.take()
        try:
            ahead = lock.ahead(ticket)
            while ahead:
                ahead = lock.wait(ticket, ahead, timeout=0.05)
            with guard:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.05)
            with guard:
                running[0] -= 1
        finally:
            lock.release(ticket)

    threads = [threading.Thread(target=worker) for _ in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak[0] == 3 and len(lock) == 0

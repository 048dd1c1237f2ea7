"""The order ledger as an explicit state machine: its states, the actions that move an order between
them, and the one table of allowed transitions. `ledger.transition` refuses any move not in it.

    received --CREATE--> created --COMPLETE--> done
        |                   |  \\--HOLD--> held
        +--WAIT--> waiting  +--WAIT/FAIL/QUARANTINE
        +--FAIL--> failed --(a retry run: CREATE / COMPLETE / WAIT / HOLD / FAIL / QUARANTINE)
        +--QUARANTINE--> quarantined
    a newer channel state: RECEIVE (no sales order yet) -> received, REOPEN (it has one) -> created

`done`, `quarantined` and `held` rest until a newer channel state (or a replay) reopens the order;
the others are open: the push job has work left on them.
"""

from __future__ import annotations

from enum import Enum


class OrderState(str, Enum):
    RECEIVED = "received"  # validated into the ledger; no sales order yet
    WAITING = "waiting"  # for the catalogue (an unknown SKU, a currency the account lacks)
    CREATED = "created"  # the sales order exists; follow-ups (or changed lines) left to do
    DONE = "done"  # the sales order matches the channel's state
    FAILED = "failed"  # an error; retried after a delay
    QUARANTINED = "quarantined"  # for a person: see `gecko-pipeline quarantine list`
    HELD = "held"  # lines changed after the sales order could no longer follow; for a person

    def __str__(self) -> str:
        return self.value


class OrderAction(str, Enum):
    RECEIVE = "receive"  # a newer channel state of an order that has no sales order yet
    REOPEN = "reopen"  # a newer channel state of an order that has one
    WAIT = "wait"
    CREATE = "create"  # the sales order was created (or found by its reference after a lost answer)
    COMPLETE = "complete"  # every follow-up the channel state calls for is done
    HOLD = "hold"
    FAIL = "fail"
    QUARANTINE = "quarantine"

    def __str__(self) -> str:
        return self.value


S, A = OrderState, OrderAction
_WORKING = (S.RECEIVED, S.WAITING, S.CREATED, S.FAILED)  # where a push may be under way
_WITH_SALES_ORDER = (S.WAITING, S.CREATED, S.FAILED)  # states an order with a sales order can push from

TRANSITIONS: dict[tuple[OrderState, OrderAction], OrderState] = {
    **{(state, A.RECEIVE): S.RECEIVED for state in (S.RECEIVED, S.WAITING, S.FAILED, S.QUARANTINED)},
    **{(state, A.REOPEN): S.CREATED for state in (*_WITH_SALES_ORDER, S.DONE, S.QUARANTINED, S.HELD)},
    **{(state, A.CREATE): S.CREATED for state in (S.RECEIVED, S.WAITING, S.FAILED)},
    **{(state, A.WAIT): S.WAITING for state in _WORKING},
    **{(state, A.FAIL): S.FAILED for state in _WORKING},
    **{(state, A.QUARANTINE): S.QUARANTINED for state in _WORKING},
    **{(state, A.COMPLETE): S.DONE for state in _WITH_SALES_ORDER},
    **{(state, A.HOLD): S.HELD for state in _WITH_SALES_ORDER},
}

# States with work left for the push job (the retry pass looks at these).
OPEN_STATES = frozenset(_WORKING)


class IllegalTransition(RuntimeError):
    """A move the table does not allow: a bug in the caller, never a channel's fault."""


def after(state: OrderState | str, action: OrderAction) -> OrderState:
    """The state `action` leads to from `state`, or IllegalTransition."""
    target = TRANSITIONS.get((OrderState(state), action))
    if target is None:
        allowed = ", ".join(sorted(str(a) for (s, a) in TRANSITIONS if s == OrderState(state)))
        raise IllegalTransition(f"cannot {action} an order that is {state} (allowed: {allowed or 'none'})")
    return target


def allowed(source: OrderState | str, target: OrderState | str) -> bool:
    """Whether some action moves an order from `source` to `target`."""
    return OrderState(target) in {to for (state, _), to in TRANSITIONS.items() if state == OrderState(source)}

"""Webhooks: subscriptions, the signed receiver, the event store in ops.sqlite, and the sensor that turns
events into targeted refreshes (docs/webhooks.md)."""

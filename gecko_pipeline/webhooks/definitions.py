"""What the webhooks part adds to the project's Definitions."""

from __future__ import annotations

from gecko_pipeline.webhooks.jobs import webhook_refresh_job
from gecko_pipeline.webhooks.sensor import webhook_event_sensor

WEBHOOK_JOBS = [webhook_refresh_job]
WEBHOOK_SENSORS = [webhook_event_sensor]

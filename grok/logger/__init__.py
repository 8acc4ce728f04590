"""Sinks for metrics and summaries: the local run dir (always), W&B (optional)."""

from grok.logger.local import RunStore, milestones

__all__ = ["RunStore", "milestones"]

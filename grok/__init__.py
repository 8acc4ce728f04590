"""grok: train small transformers on algorithmic tasks and measure how they generalize.

In a notebook: ``grok.load_run(run_dir)`` (grok/store/catalog.py), ``grok.load_sweep(sweep_dir)``
and ``grok.load_sweep_metrics(sweep_dir)`` (grok/results.py). They are imported on first use,
so ``import grok`` stays cheap for the command line.
"""

from typing import Any

_LAZY = {"load_run", "load_sweep", "load_sweep_metrics", "load_checkpoint"}


def __getattr__(name: str) -> Any:
    if name in ("load_checkpoint", "load_run"):
        # deferred: `import grok` stays cheap
        from grok import store

        return getattr(store, name)
    if name in _LAZY:
        # deferred: `import grok` stays cheap
        from grok import results

        return getattr(results, name)
    raise AttributeError(f"module 'grok' has no attribute {name!r}")


__all__ = sorted(_LAZY)

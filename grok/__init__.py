"""grok: train small transformers on algorithmic tasks and measure how they generalize."""

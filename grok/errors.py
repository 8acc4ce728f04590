"""One exception type for every bad-input message users see."""


class ConfigError(ValueError):
    """A configuration value is not allowed; the message names it and what is."""

"""envtrail: encrypted environment variables in Git with a signed audit trail."""

__version__ = "0.1.0"

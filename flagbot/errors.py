"""The one exception tree of flagbot.

FlagbotError
├── ConfigError        flagbot.yaml is wrong: stops the program with what to change
├── RulesError         rules.yaml is wrong (file:line: rule ID: problem)
├── ModelError         a model file is missing, tampered with or from another scikit-learn
├── StoreError         the database is unusable (e.g. newer schema than this code)
│   └── StoreUnavailable  the database cannot be reached now: waited out, never fatal
├── BadEvent           one recent-change event is malformed: counted and skipped
├── DeliveryError      an alert channel could not deliver (permanent, or retried later)
└── FetchError         a wiki request failed after its retries
    └── SkipEdit       the edit cannot be scored, with a counted reason (deleted, too large…)
"""


class FlagbotError(Exception):
    """Root of every error flagbot raises on purpose."""


class ConfigError(FlagbotError):
    """The configuration is invalid; the message says what to change."""


class RulesError(FlagbotError):
    """rules.yaml is invalid; each problem reads `file:line: rule ID: problem`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class ModelError(FlagbotError):
    """The model cannot be loaded safely."""


class StoreError(FlagbotError):
    """The store cannot be used."""


class StoreUnavailable(StoreError):
    """The database did not answer (stopped, restarting, network): the caller waits and
    retries; the work in hand is kept, not dropped."""


class BadEvent(FlagbotError):
    """A malformed event. `reason` is a short counter key; the content is never in the message."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class FetchError(FlagbotError):
    """A wiki request failed for good (after retries)."""


class SkipEdit(FetchError):
    """This edit has no text to score; `reason` is a short counter key."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


class DeliveryError(FlagbotError):
    """A channel could not deliver. Permanent ones (no such recipient) are not retried."""

    def __init__(self, message: str, permanent: bool = False, retry_after: float = 0.0):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after  # seconds the channel asked us to wait (rate limits)

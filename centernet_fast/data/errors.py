"""The error raised for a dataset that cannot be used as a whole, and the logged skips of single
bad annotations."""

import logging
from collections import Counter

logger = logging.getLogger("centernet_fast.data")


class DatasetError(ValueError):
    """A dataset, annotation file or image that cannot be used; the message names the file.

    Derives from ValueError with the message as its only argument, so that a DataLoader worker
    re-raises it in the main process unchanged.
    """


class SkipLog:
    """Logs skipped annotations: each one at WARNING up to ``limit`` per reason, then a summary.

    A large dataset with many bad annotations logs a bounded number of lines, and ``counts``
    (reason -> number skipped) keeps the full tally for the caller; ``repaired`` counts the
    annotations kept after a repair (such as clipping), logged in the summary at INFO.
    """

    def __init__(self, source: str, limit: int = 10):
        self.source = source
        self.limit = limit
        self.counts = Counter()
        self.repaired = Counter()

    def skip(self, reason: str, detail: str) -> None:
        self.counts[reason] += 1
        if self.counts[reason] <= self.limit:
            logger.warning("%s: skipped %s (%s)", self.source, detail, reason)

    def summarize(self) -> None:
        if self.counts:
            tally = ", ".join(f"{n} {reason}" for reason, n in sorted(self.counts.items()))
            logger.warning("%s: skipped %d annotations: %s", self.source,
                           sum(self.counts.values()), tally)
        for what, n in sorted(self.repaired.items()):
            logger.info("%s: %d annotations %s", self.source, n, what)

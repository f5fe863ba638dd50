"""Asset factories, one module per stage: topics -> raw -> windows, raw -> trips.

Every partitioned asset here relies on `BackfillPolicy.single_run()` (a range is one run that
reads it once). Dagster 1.13 flags that parameter as beta each time an asset is decorated with
it; the one warning we accept is silenced here, by its exact text, and nothing else is.
"""

import warnings

from dagster import BetaWarning

warnings.filterwarnings(
    "ignore",
    message=r"Parameter `backfill_policy` of function `asset` is currently in beta",
    category=BetaWarning,
)

"""Topics listed by a pattern: `topics: - pattern: "lsst.sal.*"` with one template for all.

An entry with `pattern` (a shell-style glob, `fnmatch`) stands for every broker topic whose
name matches it, each configured by the entry's other keys (the template: event time, fields,
windows, ...). Topics listed by name come first and win over a pattern; a topic matching two
patterns takes the first. Internal topics (`__consumer_offsets`, `_schemas`) never match.

Loading the code location must not need the broker, so the broker's topic names are kept in a
cache file (`topics_cache_path`): written by `aggregator-assets topics-refresh`, or on the first
load that finds none. New topics appear once the cache is refreshed and the code location is
reloaded (UI: Deployment > Reload, or a restart): they then get their assets and a sensor.
"""

from __future__ import annotations

import fnmatch
import json
import os
from datetime import datetime, timezone
from pathlib import Path

CACHE_ENV_VAR = "AGGREGATOR_TOPICS_CACHE"
CACHE_FILE = "aggregator_topics.json"


class TopicListingError(RuntimeError):
    """No cached topic list and the broker could not be listed."""


def topics_cache_path() -> Path:
    """$AGGREGATOR_TOPICS_CACHE, else `aggregator_topics.json` in $DAGSTER_HOME, else in
    ./data (beside the local lake)."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR])
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) / CACHE_FILE if home else Path("data") / CACHE_FILE


def has_patterns(data: object) -> bool:
    topics = data.get("topics") if isinstance(data, dict) else None
    return isinstance(topics, list) and any(isinstance(t, dict) and "pattern" in t for t in topics)


def expand_patterns(data: dict, broker_topics: list[str]) -> tuple[dict, list[dict]]:
    """The config with every pattern entry replaced by one entry per matching topic, and the
    templates (each with a placeholder name) so that a template is validated even when it
    matches nothing."""
    explicit = [t for t in data["topics"] if not (isinstance(t, dict) and "pattern" in t)]
    taken = {t.get("name") for t in explicit if isinstance(t, dict)}
    expanded, templates = list(explicit), []
    for entry in data["topics"]:
        if not (isinstance(entry, dict) and "pattern" in entry):
            continue
        template = {k: v for k, v in entry.items() if k != "pattern"}
        templates.append({**template, "name": "pattern-template"})
        for name in sorted(broker_topics):
            if name.startswith("_") or name in taken:
                continue
            if fnmatch.fnmatchcase(name, str(entry["pattern"])):
                expanded.append({**template, "name": name})
                taken.add(name)
    return {**data, "topics": expanded}, templates


def read_cache(path: Path | None = None) -> list[str] | None:
    path = path or topics_cache_path()
    try:
        return list(json.loads(path.read_text())["topics"])
    except FileNotFoundError:
        return None


def write_cache(topics: list[str], path: Path | None = None) -> Path:
    """Write atomically (a reader sees the old list or the new one, never half of one)."""
    path = path or topics_cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    listed = {"listed_at": datetime.now(timezone.utc).isoformat(), "topics": sorted(topics)}
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    staged.write_text(json.dumps(listed, indent=1))
    staged.replace(path)
    return path


def list_broker_topics(timeout_s: float = 10.0) -> list[str]:
    """Every topic name on the broker of this environment ($KAFKA_BOOTSTRAP_SERVERS, ...)."""
    from aggregator_assets.environments import resources_for_environment

    kafka = resources_for_environment()["kafka"]
    timeout_ms = int(timeout_s * 1000)
    try:
        with kafka.consumer(request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms) as c:
            return sorted(c.topics())
    except Exception as exc:
        raise TopicListingError(
            f"cannot list the broker's topics for the config's patterns: {exc}"
        ) from exc


def refresh_cache(path: Path | None = None) -> tuple[Path, list[str]]:
    topics = list_broker_topics()
    return write_cache(topics, path), topics


def cached_topics() -> list[str]:
    """The cached topic names; listed from the broker (and cached) when there is no cache."""
    found = read_cache()
    return found if found is not None else refresh_cache()[1]

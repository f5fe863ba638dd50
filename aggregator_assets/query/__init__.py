"""Query the lake with DuckDB: views over every lake table, and the asset refreshing them."""

from aggregator_assets.query.assets import query_assets
from aggregator_assets.query.views import LakeView, create_lake_views, lake_view_specs

__all__ = ["LakeView", "create_lake_views", "lake_view_specs", "query_assets"]

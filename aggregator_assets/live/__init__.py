"""The live tail beside the sealed hourly lake: landing every minute, live views, provisional
windows (issue #15). Nothing here changes how hours are sealed; it reads the same landing log."""

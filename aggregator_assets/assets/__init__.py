"""Asset factories, one module per stage: topics -> raw -> windows, raw -> trips."""

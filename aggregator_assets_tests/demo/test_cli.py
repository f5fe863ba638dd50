"""The `aggregator-assets` command line: config-check and demo against a real broker."""

from __future__ import annotations

from aggregator_assets.cli import main
from aggregator_assets.config import default_config_path
from aggregator_assets.demo.broker import running_broker


def test_config_check_accepts_the_packaged_config(capsys):
    assert main(["config-check", str(default_config_path())]) == 0
    out = capsys.readouterr().out
    assert "iot-events" in out and "raw_iot_events" in out and "windows_iot_events_1m" in out


def test_config_check_names_the_bad_key(tmp_path, capsys):
    bad = tmp_path / "pipeline.yaml"
    text = default_config_path().read_text().replace("key_field: device_id", "key_field: nope", 1)
    bad.write_text(text)
    assert main(["config-check", str(bad)]) == 1
    assert "key_field" in capsys.readouterr().err
    assert main(["config-check", str(tmp_path / "missing.yaml")]) == 1


def test_demo_command_produces(capsys):
    with running_broker() as broker:
        argv = ["demo", "--bootstrap", broker.bootstrap, "--hours", "0.1", "--rate", "20"]
        assert main([*argv, "--topics", "iot-events", "--seed", "3", "--quiet"]) == 0
    assert "iot-events:" in capsys.readouterr().out

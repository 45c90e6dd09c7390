"""Log formats and request ids."""

from __future__ import annotations

import logging

import orjson

from server.logs import (
    TEXT_FORMAT,
    JsonFormatter,
    _RequestIdFilter,
    pick_request_id,
    request_id_var,
)


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("acionar.test", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    _RequestIdFilter().filter(record)
    return record


def test_json_lines_carry_the_request_id_and_extras() -> None:
    token = request_id_var.set("req-42")
    try:
        line = JsonFormatter().format(_record("hello %s", "world", provider_id=7))
    finally:
        request_id_var.reset(token)
    entry = orjson.loads(line)
    assert entry["msg"] == "hello world"
    assert entry["request_id"] == "req-42"
    assert entry["level"] == "INFO" and entry["logger"] == "acionar.test"
    assert entry["provider_id"] == 7
    assert "\n" not in line


def test_text_lines_show_the_request_id() -> None:
    token = request_id_var.set("req-7")
    try:
        line = logging.Formatter(TEXT_FORMAT).format(_record("started"))
    finally:
        request_id_var.reset(token)
    assert "[req-7] started" in line


def test_request_ids_from_clients_are_kept_only_when_safe() -> None:
    assert pick_request_id("abc-123.X:y_z", 64) == "abc-123.X:y_z"
    assert pick_request_id("a" * 65, 64) != "a" * 65
    assert pick_request_id("x\r\nSet-Cookie: a", 64) != "x\r\nSet-Cookie: a"
    assert len(pick_request_id(None, 64)) == 32

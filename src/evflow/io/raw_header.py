"""Header of Prophesee RAW files: EVT version, sensor size (with sensor-name fallbacks), data offset.

The header is ASCII lines starting with ``%``. Binary data starts at the first line start whose byte is
not ``%``, or right after a ``% end`` line. The EVT version comes from ``% evt 2.0|2.1|3.0`` or
``% format EVT2|EVT21|EVT3;height=..;width=..`` (``endianness=legacy`` selects the swapped EVT 2.1 layout).
The size comes from ``% format``, else ``% geometry WxH``, else from the sensor named by ``plugin_name``
(gen3 -> 640x480; gen4, gen41, imx636 -> 1280x720), else it is unknown. evflow's writer adds
``% evflow_t_offset N`` when the recording starts after the first time-high wrap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from evflow.errors import UnsupportedFormatError
from evflow.io.header_lines import iter_header_lines

EVT_VERSIONS = {"2.0": "evt2", "2.1": "evt21", "3.0": "evt3"}
FORMAT_NAMES = {"EVT2": "evt2", "EVT21": "evt21", "EVT3": "evt3"}
SENSOR_SIZES = {
    "gen3": (480, 640),
    "gen31": (480, 640),
    "gen4": (720, 1280),
    "gen41": (720, 1280),
    "imx636": (720, 1280),
}


@dataclass
class RawHeader:
    """Parsed RAW header; ``height``/``width`` are None when the file gives no way to know them."""

    lines: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    evt: str = ""
    legacy: bool = False
    height: int | None = None
    width: int | None = None
    geometry_source: str = "unknown"
    data_offset: int = 0
    t_offset: int = 0


def read_raw_header(path, f) -> RawHeader:
    """Parse the header of the binary file ``f`` (positioned at 0); leave ``f`` at the first data byte.

    Raises:
        UnsupportedFormatError: no header, non-ASCII or endless line, unknown EVT version, bad geometry.
    """
    h = RawHeader()
    pos = 0
    for text, pos in iter_header_lines(path, f, b"%"):  # noqa: B007 - pos ends as the data offset
        h.lines.append(text)
        key, _, value = text[1:].strip().partition(" ")
        if key == "end":
            break
        h.fields.setdefault(key.lower(), value.strip())
    h.data_offset = pos
    f.seek(pos)
    if not h.lines:
        raise UnsupportedFormatError(path, "no RAW header: expected ASCII lines starting with '%'", offset=0)
    _parse_format(path, h)
    _parse_geometry(path, h)
    if "evflow_t_offset" in h.fields:
        h.t_offset = _to_int(path, "evflow_t_offset", h.fields["evflow_t_offset"])
    return h


def _parse_format(path, h: RawHeader) -> None:
    if "format" in h.fields:
        name, *opts = h.fields["format"].split(";")
        if name.strip().upper() not in FORMAT_NAMES:
            raise UnsupportedFormatError(
                path, f"header field '% format' names {name!r}; supported: {', '.join(FORMAT_NAMES)}"
            )
        h.evt = FORMAT_NAMES[name.strip().upper()]
        kv = dict(o.split("=", 1) for o in opts if "=" in o)
        h.legacy = kv.get("endianness", "").strip().lower() == "legacy"
        if "height" in kv and "width" in kv:
            h.height = _to_int(path, "format;height", kv["height"])
            h.width = _to_int(path, "format;width", kv["width"])
            h.geometry_source = "% format"
    elif "evt" in h.fields:
        version = h.fields["evt"]
        if version not in EVT_VERSIONS:
            raise UnsupportedFormatError(
                path, f"header field '% evt' is {version!r}; supported: {', '.join(EVT_VERSIONS)}"
            )
        h.evt = EVT_VERSIONS[version]
    else:
        raise UnsupportedFormatError(path, "header has no '% evt' or '% format' line: unknown EVT version")


def _parse_geometry(path, h: RawHeader) -> None:
    if h.height is not None:
        return
    if "geometry" in h.fields:
        m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", h.fields["geometry"])
        if not m:
            raise UnsupportedFormatError(path, f"header field '% geometry' is {h.fields['geometry']!r}, expected WxH")
        h.width, h.height = int(m.group(1)), int(m.group(2))
        h.geometry_source = "% geometry"
        return
    tokens = re.split(r"[_\-\s]+", h.fields.get("plugin_name", "").lower())
    for token in tokens:
        if token in SENSOR_SIZES:
            h.height, h.width = SENSOR_SIZES[token]
            h.geometry_source = f"plugin_name {h.fields['plugin_name']}"
            return


def _to_int(path, name: str, value: str) -> int:
    try:
        v = int(value.strip())
    except ValueError:
        v = -1
    if v < 0:
        raise UnsupportedFormatError(path, f"header field {name!r} is {value!r}, expected an integer >= 0")
    return v

"""The ``[printer] connection`` string -> an open python-escpos printer.

    sim:DIR               the simulator on a pty, jobs saved in DIR
    usb:VID:PID           e.g. usb:0x0416:0x5011 (hex)
    serial:DEVICE[@BAUD]  e.g. serial:/dev/phucvu-printer@9600 (default 9600)
    network:HOST[:PORT]   raw TCP, port 9100 by default
    file:PATH             a device file such as /dev/usb/lp0

Besides opening, this module owns the one thing python-escpos does badly
for us: reading one status byte with a bounded wait (its query_status reads
16 bytes and so always waits the full timeout).
"""
from __future__ import annotations

import os
import re
import select
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["sim", "usb", "serial", "network", "file"]
BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)


class ConnectionStringError(ValueError):
    pass


@dataclass(frozen=True)
class Connection:
    kind: Kind
    path: str = ""  # sim dir, serial device or file
    baud: int = 9600
    vid: int = 0
    pid: int = 0
    host: str = ""
    port: int = 9100


def parse(text: str, *, base_dir: str | Path = ".") -> Connection:
    def err(why: str) -> ConnectionStringError:
        return ConnectionStringError(
            f"[printer] connection: {why}, got {text!r} "
            "(expected sim:DIR, usb:VID:PID, serial:DEVICE[@BAUD], network:HOST[:PORT] or file:PATH)"
        )

    kind, sep, rest = text.partition(":")
    if not sep or not rest:
        raise err("missing 'kind:' or target")
    if kind == "sim":
        return Connection("sim", path=str(Path(base_dir) / rest))
    if kind == "file":
        return Connection("file", path=rest)
    if kind == "serial":
        dev, at, baud = rest.rpartition("@") if "@" in rest else (rest, "", "")
        if at:
            if not baud.isdigit() or int(baud) not in BAUDS:
                raise err(f"baud rate must be one of {BAUDS}")
            return Connection("serial", path=dev, baud=int(baud))
        return Connection("serial", path=dev)
    if kind == "usb":
        m = re.fullmatch(r"(?:0x)?([0-9a-fA-F]{1,4}):(?:0x)?([0-9a-fA-F]{1,4})", rest)
        if not m:
            raise err("USB ids are two hex numbers VID:PID as lsusb shows them")
        return Connection("usb", vid=int(m[1], 16), pid=int(m[2], 16))
    if kind == "network":
        host, colon, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
        if colon:
            if not port.isdigit() or not 1 <= int(port) <= 65535:
                raise err("port must be 1..65535")
            return Connection("network", host=host, port=int(port))
        return Connection("network", host=rest)
    raise err(f"unknown kind {kind!r}")


def open_printer(conn: Connection, *, timeout: float, device_path: str = ""):
    """An opened python-escpos printer; raises OSError-like errors when absent.

    ``device_path`` is the pty of a running simulator for ``sim:``.
    """
    from kiosk.printing import load_escpos
    load_escpos()
    from escpos import printer as ep

    if conn.kind in ("sim", "serial"):
        # dsrdtr=False: USB-serial adapters and ptys have no DSR line.
        p = ep.Serial(devfile=device_path or conn.path, baudrate=conn.baud, timeout=timeout, dsrdtr=False)
        p.open()
        return p
    if conn.kind == "network":
        p = ep.Network(host=conn.host, port=conn.port, timeout=timeout)
        p.open()
        return p
    if conn.kind == "usb":
        p = ep.Usb(idVendor=conn.vid, idProduct=conn.pid, timeout=int(timeout * 1000))
        p.open()
        return p
    p = ep.File(devfile=conn.path)
    p.open()
    return p


def write(p, data: bytes) -> None:
    """Send a job; for serial, wait until the bytes have left the UART."""
    p._raw(data)
    dev = getattr(p, "device", None)
    if dev is not None and hasattr(dev, "flush") and hasattr(dev, "reset_input_buffer"):
        dev.flush()


def read_byte(p, timeout: float) -> int | None:
    """One status byte from the printer, or None if nothing came in time."""
    dev = p.device
    if hasattr(dev, "reset_input_buffer"):  # pyserial
        dev.timeout = timeout
        got = dev.read(1)
        return got[0] if got else None
    if isinstance(dev, socket.socket):
        dev.settimeout(timeout)
        try:
            got = dev.recv(1)
        except socket.timeout:
            return None
        return got[0] if got else None
    if hasattr(p, "in_ep"):  # pyusb
        try:
            got = dev.read(p.in_ep, 1, int(timeout * 1000))
        except Exception as e:  # pyusb raises its own USBTimeoutError type
            if "timeout" in type(e).__name__.lower() or "timed out" in str(e).lower():
                return None
            raise
        return got[0] if len(got) else None
    fd = dev.fileno() if hasattr(dev, "fileno") else None
    if fd is None:
        return None
    try:
        rfd = os.open(p.devfile, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        ready, _, _ = select.select([rfd], [], [], timeout)
        got = os.read(rfd, 1) if ready else b""
    finally:
        os.close(rfd)
    return got[0] if got else None


def drain_input(p) -> None:
    """Drop stale status bytes so a reply is matched to its query."""
    dev = p.device
    if hasattr(dev, "reset_input_buffer"):
        dev.reset_input_buffer()

"""The serial protocol between a counter box and the bridge (docs/serial-protocol.md).

Pure: bytes in, bytes and messages out, time passed in by the caller.  The
same package runs on the box under MicroPython (copied next to ``main.py``
as ``protocol/``) and on the host under CPython, so its modules use only
what both have: ``struct``, classes, bytes, lists and relative imports (no
dataclasses, enum or typing at run time).

Three rooms, each importing only the ones above it:
- ``framing``: bytes <-> message bodies (COBS, 0x00 delimiter, CRC-16);
- ``messages``: bodies <-> messages (fixed little-endian layouts, one class
  per message type);
- ``device``: the box's side (sequence numbers, the ring of unacknowledged
  events, retransmit, replay after HELLO, host watchdog).
"""

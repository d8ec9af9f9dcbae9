"""Reference firmware for the counter box (MicroPython) and its CPython hardware shim.

On the board these files sit at the filesystem root; this package file only
lets the host import them for tests and the simulator.
"""

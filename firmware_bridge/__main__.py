"""``python -m firmware_bridge bridge CONFIG`` or ``python -m firmware_bridge sim ID LINK``.

Parses arguments and hands over; the lead wires the same functions into the
``phucvu`` CLI.
"""
import argparse
import sys


def cli(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m firmware_bridge")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bridge", help="bridge the configured counter boxes to MQTT")
    b.add_argument("config")
    s = sub.add_parser("sim", help="a simulated counter box on a pty, driven from the terminal")
    s.add_argument("device_id")
    s.add_argument("link", help="path of the stable symlink to the box's serial port")
    s.add_argument("--levels", type=int, default=3)
    s.add_argument("--flash", default=None, help="file that keeps unacked events across restarts")
    a = ap.parse_args(argv)
    if a.cmd == "bridge":
        from firmware_bridge.bridge import main
        return main(a.config)
    from firmware_bridge.sim import main as sim_main
    return sim_main(a.device_id, a.link, a.levels, a.flash)


if __name__ == "__main__":
    sys.exit(cli())

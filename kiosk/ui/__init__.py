"""The kiosk touch UI (Kivy): app.py starts it, root.py is its behaviour."""
import os

# Kivy reads the process arguments when it is first imported unless told
# otherwise; the kiosk takes its arguments from the phucvu CLI.  Set at the
# package's door so that no order of imports can let Kivy see them first.
os.environ.setdefault("KIVY_NO_ARGS", "1")

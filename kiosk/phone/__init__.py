"""The citizen's phone page (docs/phone.md).

``token`` keys each ticket's address with the site secret (shared by the
core, which prints the QR and judges ratings, and the page's server, which
refuses a forged address before anything else).
"""

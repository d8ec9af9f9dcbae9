"""The citizen's phone page (docs/phone.md).

``token`` keys each ticket's address with the site secret (shared by the
core, which prints the QR and judges ratings, and the page's server, which
refuses a forged address before anything else).  The server, ``phucvu
phone``: ``app`` (the routes, the headers, the checks), ``bus`` (login
``phone``: the retained tickets and names in memory, ratings out, stats),
``limits`` (per-address budget and stream cap), ``view`` (one ticket's
state, pure), ``pages`` (the HTML), ``static/`` (the page's script and
style), ``screenshots`` (its pictures).
"""

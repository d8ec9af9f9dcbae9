"""Many centres: the provincial side (docs/multi-site.md).

Each centre's Mosquitto bridges its events to a provincial broker
(``[uplink]`` in the site config, ``kiosk.broker.bridge_lines``).  Here:

- ``config``: the province's own TOML file (broker, PostgreSQL, client id);
- ``schema``: the PostgreSQL tables and their numbered migrations;
- ``events``: pure parsing of what arrives on the bus (no I/O);
- ``aggregator``: ``phucvu aggregate``, the bus -> PostgreSQL service;
- ``report``: ``phucvu report --province``, centres ranked;
- ``central``: a provincial Mosquitto config for tests, the bench and trials;
- ``devdb``: a throwaway PostgreSQL cluster for tests, the bench and trials.
"""

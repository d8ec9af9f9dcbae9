"""The buttons a citizen chooses with: one tile per field and the priority tile
on the home screen, one button per priority class on the priority screen.

Made from the site config (again when a saved change arrives); relabelled from the retained queue/summary and
the language (texts.py); laid out again when the window changes shape.
"""
from __future__ import annotations

from typing import Any, Callable

from kivy.clock import Clock

from kiosk import config as site_config
from kiosk.ui import texts, theme
from kiosk.ui.widgets import FieldTile, HomeScreen, KButton, PriorityScreen


class Choices:
    """``on_field(code)``, ``on_priority()`` and ``on_class(code)`` are called on a touch."""

    def __init__(self, cfg: site_config.SiteConfig, home: HomeScreen, priority: PriorityScreen, *,
                 on_field: Callable[[str], None], on_priority: Callable[[], None],
                 on_class: Callable[[str], None]):
        self.home = home
        self.priority = priority
        self.on_field = on_field
        self.on_class = on_class
        self.priority_tile = FieldTile(code="", icon="priority", bg=theme.rgba("priority"))
        self.priority_tile.bind(on_release=lambda *_: on_priority())
        # The names on the tiles share one size, the smallest any of them needs,
        # so that one long name does not leave the grid in mixed sizes.
        self._share = Clock.create_trigger(self.share_name_size, -1)
        self._watch(self.priority_tile)
        self.tiles: dict[str, FieldTile] = {}
        self.class_buttons: dict[str, KButton] = {}
        self.build(cfg)

    def build(self, cfg: site_config.SiteConfig) -> None:
        """The tiles and class buttons for ``cfg``; again after a live config change
        (names, icons, fields added or removed, classes).  The caller lays them out."""
        self.cfg = cfg
        self.tiles = {}
        for f in cfg.fields:
            tile = FieldTile(code=f.code, icon=f.icon_kind())
            tile.bind(on_release=lambda tile: self.on_field(tile.code))
            self._watch(tile)
            self.tiles[f.code] = tile
        self._share()
        self.priority.ids.classes.clear_widgets()
        self.class_buttons = {}
        for pc in cfg.priority.classes:
            b = KButton(bg=theme.rgba("priority"), nominal=theme.TILE_NAME_PX - 4)
            b.bind(on_release=lambda btn, code=pc.code: self.on_class(code))
            self.class_buttons[pc.code] = b
            self.priority.ids.classes.add_widget(b)

    def _watch(self, tile: FieldTile) -> None:
        tile.ids.name_label.bind(size=self._share, text=self._share, nominal=self._share,
                                 opacity=self._share)
        tile.bind(opacity=self._share)

    def all_tiles(self) -> list[FieldTile]:
        return [*self.tiles.values(), self.priority_tile]

    def share_name_size(self, *_) -> None:
        """Cap every tile's name at the smallest size a shown tile's name fits at."""
        labels = [t.ids.name_label for t in self.all_tiles()]
        shown = [l for t, l in zip(self.all_tiles(), labels)
                 if t.opacity > 0 and t.parent is not None and l.text.strip()]
        shared = min((l.own_size() for l in shown), default=0)
        for label in labels:
            label.cap = shared

    def layout(self, landscape: bool, width: float, height: float) -> None:
        grid = self.home.ids.tiles
        grid.clear_widgets()
        # Three columns on a wide screen, and on a short one (800×480) where three
        # rows would leave each tile too low for its two lines; else two; portrait one.
        grid.cols = 1 if not landscape else (3 if width >= 1600 or height < 600 else 2)
        for tile in [*self.tiles.values(), self.priority_tile]:
            grid.add_widget(tile)
        many = len(self.class_buttons) > 4
        self.priority.ids.classes.cols = (3 if many else 2) if landscape else (2 if many else 1)

    def relabel(self, summary: dict[str, Any] | None, lang: str, chosen: str | None) -> None:
        """``chosen``: the priority class already chosen, if any."""
        for code, label in texts.priority_classes(self.cfg, lang).items():
            self.class_buttons[code].text = label
        for shown in texts.tiles(self.cfg, summary, lang):
            tile = self.tiles[shown["code"]]
            tile.name, tile.tile_state, tile.info = shown["name"], shown["state"], shown["info"]
            tile.bg = theme.rgba("tile" if shown["state"] == "open" else "tile_closed")
            # A field closed by the head cannot be pressed: no request, no
            # refusal screen; its line says why.  (Outside hours a press
            # still asks the core, which says when to come back.)
            tile.disabled = shown["state"] == "field_closed"
        # In priority mode the class is already chosen: the tile stays in the
        # grid (so the field tiles keep their places) but cannot be touched.
        self.priority_tile.disabled = chosen is not None
        self.priority_tile.opacity = 0 if chosen is not None else 1
        for name, value in texts.priority_tile(lang).items():
            setattr(self.priority_tile, name, value)

"""A page per settings section (display, input, hotkeys), built from the settings table:
a setting added there shows up here, checked the same way."""

from __future__ import annotations

from typing import Any

from ...config.settings import SECTIONS, fields_of
from ...config.target import ConfigError
from ...input.xkb import LayoutError, check_layout
from ..app import Page, SetupApp
from ..widgets import Button, Choice, Field, Note, Widget


class SectionPage(Page):
    def __init__(self, app: SetupApp, section: str, title: str) -> None:
        super().__init__(app)
        self.title, self.section = title, section
        values = getattr(app.config(), section)
        self.inputs: dict[str, Choice | Field] = {}
        self.before: dict[str, str] = {}
        widgets: list[Widget] = []
        for key, f in fields_of(SECTIONS[section]).items():
            if f.metadata["secret"]:
                continue  # secrets have pages of their own
            value: Any = getattr(values, f.name)
            text = "" if value is None else str(f.metadata["to_toml"](value))
            widget: Choice | Field
            if f.metadata["choices"]:
                widget = Choice(key, [(c, c) for c in f.metadata["choices"]], text)
            else:
                widget = Field(key, text, hint="not set")
            self.inputs[key], self.before[key] = widget, text
            widgets += [widget, Note(f.metadata["about"], small=True)]
        self.widgets = widgets
        self.buttons = [Button("Save", self.save, "primary"), Button("Back", self.back)]

    def save(self) -> None:
        changes = {}
        for key, widget in self.inputs.items():
            text = widget.value if isinstance(widget, Choice) else widget.text.strip()
            if text != self.before[key]:
                changes[f"{self.section}.{key}"] = text
        if not changes:
            self.say("Nothing changed")
            return
        try:
            if self.section == "input":  # xkb-data must know the layout it is set to
                layout = self.inputs["keyboard-layout"]
                variant = self.inputs["keyboard-variant"]
                assert isinstance(layout, Field) and isinstance(variant, Field)
                check_layout(layout.text.strip(), variant.text.strip())
            self.app.store.set_many(changes)
        except LayoutError as exc:
            self.say(str(exc), error=True)
            return
        except ConfigError as exc:
            self.say(str(exc), error=True)
            return
        self.before.update({k.split(".")[-1]: v for k, v in changes.items()})
        self.app.settings_changed()
        self.say("Saved")

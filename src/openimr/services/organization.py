"""The review organization that sends the letters: its letterhead and its signature.

Every field is a setting ``OPENIMR_ORG_<FIELD>`` (``OPENIMR_ORG_NAME``, ``OPENIMR_ORG_ADDRESS``
with lines split by ``;`` or newlines, ``OPENIMR_ORG_PHONE``, ``OPENIMR_ORG_WEB``,
``OPENIMR_ORG_SIGNATORY``, ``OPENIMR_ORG_SIGNATORY_TITLE``). With none set, a letter still reads
correctly: it names "the independent review organization" in words and leaves out what is unknown.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from openimr.core.letters import layout


class Organization(BaseSettings):
    """The review organization's name, address, phone, web address and signatory."""

    model_config = SettingsConfigDict(env_prefix="OPENIMR_ORG_", frozen=True, extra="ignore")

    name: str = Field(default="", max_length=200, description="The organization's name; empty: unnamed.")
    address: str = Field(default="", max_length=500, description="Postal address; lines split by ';'.")
    phone: str = Field(default="", max_length=50)
    web: str = Field(default="", max_length=200)
    signatory: str = Field(default="", max_length=200, description="Who signs the letters; empty: no name.")
    signatory_title: str = Field(default="Medical Director", max_length=200)

    @property
    def label(self) -> str:
        """The name on the letter's guideline lines: the organization's, else the neutral default
        that :mod:`openimr.core.letters.parse` reads back."""
        return self.name.strip() or layout.DEFAULT_ORGANIZATION

    @property
    def address_lines(self) -> list[str]:
        """The postal address, one entry a line."""
        return [line.strip() for line in self.address.replace(";", "\n").splitlines() if line.strip()]

    @property
    def letterhead(self) -> list[str]:
        """The letterhead's lines: the name (or "Independent Medical Review"), address, phone, web."""
        lines = [self.name.strip() or "Independent Medical Review", *self.address_lines]
        if self.phone.strip():
            lines.append(f"Telephone {self.phone.strip()}")
        if self.web.strip():
            lines.append(self.web.strip())
        return lines

"""Small fixes to govuk-frontend-wtf's widgets, for the fields forms/ builds.

govuk-frontend-wtf ships no type information, so its classes are `Any` to mypy: hence the
`type: ignore[misc]` on each subclass.
"""

from __future__ import annotations

from typing import Any

from govuk_frontend_wtf.wtforms_widgets import GovDateInput, GovRadioInput


def with_bold_legend(params: dict[str, Any]) -> dict[str, Any]:
    """Make the fieldset legend bold like the other questions' labels ("--s", as GOV.UK advises)."""
    params.pop("label", None)  # a fieldset has a legend, not a label
    params["fieldset"]["legend"].setdefault("classes", "govuk-fieldset__legend--s")
    return params


class GovRadios(GovRadioInput):  # type: ignore[misc]
    """Radios whose hint is left out when the field has none (instead of an empty hint block)."""

    def map_gov_params(self, field: Any, **kwargs: Any) -> dict[str, Any]:
        """Map the field to govukRadios params, dropping an empty hint."""
        params: dict[str, Any] = super().map_gov_params(field, **kwargs)
        if not field.description:
            params.pop("hint", None)
        return with_bold_legend(params)


class GovDates(GovDateInput):  # type: ignore[misc]
    """The day/month/year input, safe when a request sent fewer than three parts."""

    def map_gov_params(self, field: Any, **kwargs: Any) -> dict[str, Any]:
        """Map the field to govukDateInput params; a short submission shows empty boxes."""
        if field.raw_data is not None:
            field.raw_data = [*field.raw_data, "", "", ""][:3]
        params: dict[str, Any] = super().map_gov_params(field, **kwargs)
        return with_bold_legend(params)

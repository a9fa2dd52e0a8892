"""England and Wales bank holidays, from the `holidays` package's rules (offline, no download).

The package computes each year from the rules (Easter, substitute days) and lists the one-off
holidays announced so far (2022 jubilee and state funeral, 2023 coronation). A one-off announced
later needs a newer release of the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import holidays

from workflow.timing import TimingError

FIRST_YEAR = 2000
LAST_YEAR = 2099


@dataclass(frozen=True)
class BankHolidays:
    """The bank holidays of a span of years; asking about a day outside the span is an error."""

    dates: frozenset[date]
    first_year: int
    last_year: int

    def is_holiday(self, day: date) -> bool:
        """Tell whether `day` is a bank holiday; TimingError outside the years known."""
        if not self.first_year <= day.year <= self.last_year:
            raise TimingError(
                f"{day.isoformat()}: bank holidays are known for "
                f"{self.first_year}-{self.last_year} only"
            )
        return day in self.dates


@lru_cache(maxsize=1)
def england_and_wales() -> BankHolidays:
    """England and Wales bank holidays, 2000-2099 (built on first use, then shared)."""
    # England and Wales share one list ("ENG" and "WLS" give the same days); Scotland and
    # Northern Ireland have their own and are not supported.
    years = range(FIRST_YEAR, LAST_YEAR + 1)
    found = holidays.country_holidays("GB", subdiv="ENG", years=years)
    return BankHolidays(frozenset(found), FIRST_YEAR, LAST_YEAR)

"""Enumerations shared by the health result types."""

from typing import Literal

Component = Literal["usage", "engagement", "support", "satisfaction", "payment"]
Direction = Literal["increasing", "stable", "decreasing"]

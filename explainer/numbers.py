"""Numbers written for people: 3.47 × 10⁴⁴ rather than 3.47e+44, 13,009,858.3 rather than 13009858.3.

Python's ``:g`` and ``:e`` formats write powers of ten as ``e-08``, which a
formula renders as "1e − 08" and a learner reads as a subtraction. These
helpers write them as a mathematician would, in plain text (Unicode
superscripts) and in LaTeX.
"""

from __future__ import annotations

import math

SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
PLAIN_RANGE = (1e-3, 1e5)  # magnitudes written without a power of ten


def mantissa_and_exponent(value: float, digits: int = 3) -> tuple[str, int]:
    """``value`` = mantissa × 10^exponent with ``digits`` significant digits, e.g. (\"3.47\", 44); the mantissa
    is in [1, 10) and loses its trailing zeros."""
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return mantissa, int(exponent)


def _needs_power(value: float) -> bool:
    return value != 0 and math.isfinite(value) and not PLAIN_RANGE[0] <= abs(value) < PLAIN_RANGE[1]


def _positional(value: float, digits: int, separator: str) -> str:
    """``value`` without a power of ten, to ``digits`` significant digits (all of its integer digits)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:{separator}.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def times_ten(mantissa: str, exponent: int) -> str:
    """mantissa × 10^exponent for text, the exponent in superscript: '3.47 × 10⁴⁴'."""
    return f"{mantissa} × 10{str(exponent).translate(SUPERSCRIPT)}"


def latex_times_ten(mantissa: str, exponent: int) -> str:
    """mantissa × 10^exponent for a LaTeX formula: '3.47 \\times 10^{44}'."""
    return rf"{mantissa} \times 10^{{{exponent}}}"


def plain_number(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits for text: '0.25', '12,300', or '3.47 × 10⁴⁴' when it is
    very small or very large."""
    if not _needs_power(value):
        return _positional(value, digits, ",")
    return times_ten(*mantissa_and_exponent(value, digits))


def latex_number(value: float, digits: int = 3) -> str:
    """``value`` for a LaTeX formula: '0.25', or '3.47 \\times 10^{44}' when it is very small or very large."""
    if not _needs_power(value):
        return _positional(value, digits, "")
    return latex_times_ten(*mantissa_and_exponent(value, digits))


def power_of_ten(log10_value: float, digits: int = 3) -> tuple[str, int]:
    """A number known by its base-10 logarithm (too small for a float, like p(text) = 10^-185), as
    (mantissa, exponent): mantissa × 10^exponent."""
    exponent = math.floor(log10_value)
    mantissa = f"{10 ** (log10_value - exponent):.{digits - 1}f}"
    if mantissa.startswith("10"):  # rounding carried the mantissa to 10
        mantissa, exponent = f"{1:.{digits - 1}f}", exponent + 1
    return mantissa, exponent


def grouped(value: float, decimals: int = 1) -> str:
    """``value`` with thousand separators and ``decimals`` decimals, e.g. '13,009,858.3'."""
    return f"{value:,.{decimals}f}"

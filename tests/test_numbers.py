"""Numbers written for people: powers of ten as a mathematician writes them, thousands grouped."""

import math

import pytest

from explainer.numbers import grouped, latex_number, mantissa_and_exponent, plain_number, power_of_ten


@pytest.mark.parametrize(
    "value, text, latex",
    [
        (3.47e44, "3.47 × 10⁴⁴", r"3.47 \times 10^{44}"),
        (1e-8, "1 × 10⁻⁸", r"1 \times 10^{-8}"),
        (0.000123, "1.23 × 10⁻⁴", r"1.23 \times 10^{-4}"),
        (0.25, "0.25", "0.25"),
        (0.0123, "0.0123", "0.0123"),
        (2.0, "2", "2"),
        (12_300, "12,300", "12300"),
        (99_999, "99,999", "99999"),
        (100_000, "1 × 10⁵", r"1 \times 10^{5}"),
        (-4.5e-7, "-4.5 × 10⁻⁷", r"-4.5 \times 10^{-7}"),
    ],
)
def test_powers_of_ten_are_written_as_a_mathematician_would(value, text, latex):
    assert plain_number(value) == text
    assert latex_number(value) == latex
    assert "e" not in text and "e" not in latex.replace(r"\times", "")


def test_the_mantissa_and_exponent_give_back_the_number():
    for value in (3.47e44, 1.5e-185 * 1e180, 123456.0, 0.000987):
        mantissa, exponent = mantissa_and_exponent(value)
        assert float(mantissa) * 10**exponent == pytest.approx(value, rel=5e-3)


def test_a_probability_too_small_for_a_float_is_written_from_its_logarithm():
    assert power_of_ten(-184.49) == ("3.24", -185)  # 10^-184.49 = 3.24 × 10^-185
    assert power_of_ten(math.log10(0.5)) == ("5.00", -1)
    assert power_of_ten(-1e-6) == ("1.00", 0)  # rounding carries 9.99999… to 10: the exponent moves up


def test_large_numbers_get_thousand_separators():
    assert grouped(13_009_858.3) == "13,009,858.3"
    assert grouped(4096, decimals=0) == "4,096"

"""Numbers, years, ordinals, sums and clock times in words, as LJ Speech says them."""

import random
from collections.abc import Callable


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_ONES = _words(
    """
zero one two three four five six seven eight nine ten eleven twelve thirteen
fourteen fifteen sixteen seventeen eighteen nineteen
"""
)
_TENS = _words("_ _ twenty thirty forty fifty sixty seventy eighty ninety")
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def number_to_words(n: int) -> str:
    """A cardinal in words: 42 -> 'forty-two', 305 -> 'three hundred five'."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    for scale, name in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            words = f"{number_to_words(head)} {name}"
            return words + (f" {number_to_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def ordinal_to_words(n: int) -> str:
    """An ordinal in words: 1 -> 'first', 21 -> 'twenty-first', 40 -> 'fortieth'."""
    if n < 1:
        raise ValueError(f"ordinals start at 1, got {n}")
    words = number_to_words(n)
    cut = max(words.rfind(" "), words.rfind("-")) + 1
    head, last = words[:cut], words[cut:]
    if last in _ORDINAL_WORDS:
        return head + _ORDINAL_WORDS[last]
    if last.endswith("y"):
        return head + last[:-1] + "ieth"
    return head + last + "th"


def ordinal_suffix(n: int) -> str:
    """The digits of an ordinal: 1 -> '1st', 12 -> '12th', 23 -> '23rd'."""
    if n % 100 in (11, 12, 13):
        return f"{n}th"
    return f"{n}" + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def year_to_words(year: int) -> str:
    """A year read aloud: 1864 -> 'eighteen sixty-four', 1905 -> 'nineteen oh five'."""
    if not 1100 <= year <= 2099:
        return number_to_words(year)
    if 2000 <= year < 2010:
        return number_to_words(year)
    century, rest = divmod(year, 100)
    if rest == 0:
        return f"{number_to_words(century)} hundred"
    if rest < 10:
        return f"{number_to_words(century)} oh {_ONES[rest]}"
    return f"{number_to_words(century)} {number_to_words(rest)}"


def money_to_words(amount: float, unit: str = "dollars", cents: str = "cents") -> str:
    """A sum as LJ Speech reads it: 19.95 -> 'nineteen dollars, ninety-five cents'."""
    whole, hundredths = divmod(round(amount * 100), 100)
    singular = {"dollars": "dollar", "pounds": "pound", "cents": "cent"}
    words = f"{number_to_words(whole)} {singular[unit] if whole == 1 else unit}"
    if hundredths:
        part = singular[cents] if hundredths == 1 else cents
        words += f", {number_to_words(hundredths)} {part}"
    return words


def time_to_words(hour: int, minute: int) -> str:
    """A clock time as LJ Speech's normalized column writes it: 12:35 ->
    'twelve:thirty-five' (the colon stays), 11:00 -> 'eleven'."""
    if not (1 <= hour <= 12 and 0 <= minute < 60):
        raise ValueError(f"not a 12-hour clock time: {hour}:{minute:02d}")
    if minute == 0:
        return number_to_words(hour)
    tail = f"oh {_ONES[minute]}" if minute < 10 else number_to_words(minute)
    return f"{number_to_words(hour)}:{tail}"


def decimal_to_words(digits: str) -> str:
    """A decimal read digit by digit after the point: '4.8' -> 'four point eight'."""
    whole, _, fraction = digits.partition(".")
    words = number_to_words(int(whole))
    if fraction:
        words += " point " + " ".join(_ONES[int(d)] for d in fraction)
    return words


_MONTHS = _words(
    """
January February March April May June July August September October November
December
"""
)


def number_phrase(
    rng: random.Random, noun: Callable[[bool], str]
) -> list[tuple[str, str]]:
    """(raw, normalized) words of a phrase with digits, as LJ Speech's rows hold
    them: a year, a date, a count, a sum, a clock time, an ordinal, a number or
    a decimal. noun(plural) gives a noun where the phrase needs one."""
    r = rng.random()
    year = rng.randint(1750, 1899) if rng.random() < 0.65 else rng.randint(1900, 1964)
    if r < 0.38:
        word = rng.choice(("in", "in", "in", "since", "until", "about", "of"))
        return [(word, word), (str(year), year_to_words(year))]
    if r < 0.52:
        month, day = rng.choice(_MONTHS), rng.randint(1, 28)
        if rng.random() < 0.5:  # LJ reads "November twenty-two, nineteen sixty-three"
            words = [("on", "on"), (month, month)]
            words.append((f"{day},", f"{number_to_words(day)},"))
            return [*words, (str(year), year_to_words(year))]
        ordinal = (ordinal_suffix(day), ordinal_to_words(day))
        return [("on", "on"), ("the", "the"), ordinal, ("of", "of"), (month, month)]
    if r < 0.67:
        n = rng.choice(
            (rng.randint(11, 99), rng.randint(100, 999), rng.randint(1000, 20000))
        )
        thing = noun(True)
        return [(f"{n:,}", number_to_words(n)), (thing, thing)]
    if r < 0.76:
        if rng.random() < 0.5:
            amount = rng.randint(1, 99) + rng.choice((0, rng.randint(1, 99) / 100))
            raw = f"${amount:,.2f}".removesuffix(".00")
            return [(raw, money_to_words(amount))]
        amount = rng.choice((rng.randint(2, 99), rng.randint(100, 20000)))
        return [(f"\u00a3{amount:,}", money_to_words(amount, "pounds"))]
    if r < 0.84:
        hour = rng.randint(1, 12)
        if rng.random() < 0.3:
            return [("at", "at"), (str(hour), number_to_words(hour)), ("o'clock",) * 2]
        minute = rng.choice((0, rng.randint(1, 59)))
        digits = f"{hour}:{minute:02d}" if minute else str(hour)
        noon = rng.choice(("a.m.", "p.m."))
        return [("at", "at"), (digits, time_to_words(hour, minute)), (noon, noon)]
    if r < 0.92:
        n = rng.choice((rng.randint(2, 20), rng.randint(10, 19)))
        what = rng.choice(("century", "floor", "day", "year", "time", noun(False)))
        return [("the", "the"), (ordinal_suffix(n), ordinal_to_words(n)), (what, what)]
    if r < 0.97:
        n = rng.randint(1, 400)
        words = [("No.", "number"), (str(n), number_to_words(n))]
        label = rng.choice(("Exhibit", "Room", "Section", ""))
        return [(label, label), *words] if label else words
    digits = f"{rng.randint(1, 9)}.{rng.randint(1, 9)}"
    return [(digits, decimal_to_words(digits)), ("seconds", "seconds")]

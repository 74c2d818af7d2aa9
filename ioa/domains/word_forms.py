"""English word forms from well-kept libraries, never a table of answers: ``inflect`` (plurals), ``lemminflect``
(past tense, comparative, superlative) and ``countryinfo`` (capitals). The words domain checks every answer with
these, and sorts a word into a module by the rule its form follows."""

from __future__ import annotations

import functools


def _inflect():  # noqa: ANN202 - inflect's engine type is private
    import inflect

    return inflect.engine()


def _lemminflect(word: str, tag: str) -> tuple[str, ...]:
    from lemminflect import getInflection

    return tuple(f for f in getInflection(word, tag) if " " not in f)


@functools.cache
def countries() -> dict[str, str]:
    """Country name (as written in English) -> capital, for every country ``countryinfo`` knows."""
    from countryinfo import all_countries

    out = {}
    for country in all_countries():
        name, capital = country.name(), country.capital()
        if name and capital:
            out[name.title()] = capital
    return out


def plural(word: str) -> tuple[str, ...]:
    """inflect's plural of a noun."""
    form = _inflect().plural_noun(word)
    return (form,) if form else ()


def plural_rule(word: str) -> str:
    """Which spelling rule makes the plural of ``word``: regular (+s), es, ies or irregular."""
    forms = plural(word)
    form = forms[0] if forms else ""
    if word.endswith("y") and form == word[:-1] + "ies":
        return "ies"
    if form == word + "es":
        return "es"
    if form == word + "s" and not word.endswith(("s", "x", "z", "ch", "sh")):
        return "regular"
    return "irregular"


def past(word: str) -> tuple[str, ...]:
    return _lemminflect(word, "VBD")


def comparative(word: str) -> tuple[str, ...]:
    return _lemminflect(word, "JJR")


def superlative(word: str) -> tuple[str, ...]:
    return _lemminflect(word, "JJS")


def capital(country: str) -> tuple[str, ...]:
    found = countries().get(country.title())
    return (found,) if found else ()


def regular_suffix(word: str, forms: tuple[str, ...], suffix: str) -> bool:
    """Whether the form is the word plus a regular suffix ('ed', 'er', 'est'), with the usual spelling changes."""
    if not forms or len(word) > 8:  # long words take 'more' / 'most', whatever lemminflect says
        return False
    form = forms[0]
    return (
        form
        in {
            word + suffix,  # walk -> walked
            word + suffix[1:],  # like -> liked (the word's own e)
            word + word[-1] + suffix,  # stop -> stopped
            word[:-1] + "i" + suffix,  # cry -> cried
        }
    )

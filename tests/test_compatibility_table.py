"""docs/ozon-compatibility.md is generated from the backend's routes and cannot drift from them."""

from functools import cache

from reference_backend.app import create_app
from reference_backend.compatibility import DOC_PATH, METHODS, render, served_routes


@cache
def openapi() -> dict:
    """The application's OpenAPI document (built once: it takes seconds)."""
    return create_app().openapi()


def test_committed_table_is_what_the_code_serves():
    expected = render(openapi())
    assert DOC_PATH.read_text(encoding="utf-8") == expected, (
        "docs/ozon-compatibility.md is stale: run `python -m reference_backend.compatibility`")


def test_every_served_seller_api_method_is_catalogued():
    served = set(served_routes(openapi()))
    catalogued = {(m.verb, m.path) for m in METHODS}
    assert served - catalogued == set(), "a served Seller API method is missing from METHODS"
    assert len(catalogued) == len(METHODS), "a method is catalogued twice"


def test_every_unserved_method_says_why():
    """A method of the subset is served, or deliberately not, with the reason in the table."""
    served = set(served_routes(openapi()))
    for m in METHODS:
        assert ((m.verb, m.path) in served) != bool(m.unserved), m.path

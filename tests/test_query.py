"""ListQuery: the URL is the whole state of a listing, and bad input never reaches upstream."""

from __future__ import annotations

import unicodedata

import pytest
from werkzeug.datastructures import MultiDict

from webapp.common.errors import QueryError
from webapp.listing.query import EXECUTIONS, TASKS, ListQuery, check_id, is_valid_id


def parse(spec=TASKS, **args):
    return ListQuery.parse(MultiDict(args), spec)


def test_defaults_are_the_apis_own():
    query = parse()
    assert (query.sort, query.q, query.limit, query.cursor) == ("createdAt:desc", "", 50, "")
    assert query.page_request().params() == {"limit": 50, "sort": "createdAt:desc"}


@pytest.mark.parametrize("sort", ["createdAt:desc", "createdAt:asc", "name:asc", "name:desc"])
def test_each_sort_of_the_spec_is_accepted(sort):
    assert parse(sort=sort).sort == sort


@pytest.mark.parametrize("sort", ["name", "createdAt", "status:asc", "NAME:ASC", " name:asc"])
def test_a_sort_outside_the_spec_is_refused_with_the_choices_named(sort):
    with pytest.raises(QueryError) as caught:
        parse(sort=sort)
    assert "createdAt:desc, createdAt:asc, name:asc, name:desc" in str(caught.value)


@pytest.mark.parametrize("limit", ["0", "201", "-1", "1.5", "abc", "", "٣", "9" * 20])
def test_limit_must_be_a_whole_number_from_1_to_200(limit):
    if limit == "":
        assert parse(limit=limit).limit == 50
        return
    with pytest.raises(QueryError, match="limit"):
        parse(limit=limit)


def test_executions_allow_at_most_100_per_page():
    assert parse(EXECUTIONS, limit="100").limit == 100
    assert parse(EXECUTIONS).limit == 20
    with pytest.raises(QueryError, match="1 to 100"):
        parse(EXECUTIONS, limit="101")


def test_search_over_200_characters_is_refused():
    assert parse(q="x" * 200).q == "x" * 200
    with pytest.raises(QueryError, match="201 characters"):
        parse(q="x" * 201)


def test_search_with_control_characters_is_refused():
    with pytest.raises(QueryError, match="control characters"):
        parse(q="task\x00-1")


def test_search_is_sent_trimmed_and_lowercased():
    assert parse(q="  Task-1 ").page_request().params()["q"] == "task-1"


def test_search_under_two_characters_is_not_sent_and_is_flagged():
    query = parse(q=" t ")
    assert "q" not in query.page_request().params()
    assert query.search_too_short


@pytest.mark.parametrize("cursor", ["a b", "<script>", "x" * 6001, "abc\n", "é", "~%%%"])
def test_a_cursor_that_no_api_could_have_issued_is_refused(cursor):
    with pytest.raises(QueryError, match="cursor"):
        parse(cursor=cursor)


def test_any_printable_cursor_blaxel_hands_out_goes_through_a_link_and_back():
    from webapp.listing.query import cursor_in_link

    for cursor in ["../x", "a:b c", "~tilde", "z" * 6000]:
        link = cursor_in_link(cursor)
        assert parse(cursor=link).page_request().cursor == cursor


def test_a_base64_cursor_is_passed_through_untouched():
    cursor = "eyJvIjo1MCwidCI6MTd9.c2ln-_="
    assert parse(cursor=cursor).page_request().params()["cursor"] == cursor


def test_a_parameter_given_twice_is_refused():
    with pytest.raises(QueryError, match="given 2 times"):
        ListQuery.parse(MultiDict([("sort", "name:asc"), ("sort", "name:desc")]), TASKS)


def test_all_problems_are_reported_at_once():
    with pytest.raises(QueryError) as caught:
        parse(sort="bogus", limit="0", q="x" * 300)
    assert len(caught.value.problems) == 3


def test_canonical_url_leaves_defaults_out_and_keeps_the_rest():
    assert parse().url_args() == {}
    query = parse(sort="name:asc", q=" ab ", limit="100")
    assert query.url_args() == {"sort": "name:asc", "q": "ab", "limit": 100}


def test_next_page_carries_the_cursor_and_the_rows_already_shown():
    query = parse(sort="name:asc").next_page("CURSOR1", 50).next_page("CURSOR2", 50)
    assert query.url_args() == {"sort": "name:asc", "cursor": "CURSOR2", "shown": 100}
    assert query.first_page().url_args() == {"sort": "name:asc"}


@pytest.mark.parametrize("value", ["", "a\nb", "x" * 257, "a\u2028b"])
def test_ids_that_no_upstream_path_can_carry_are_refused(value):
    with pytest.raises(QueryError):
        check_id(value, "job name")


@pytest.mark.parametrize(
    "value", ["nightly-embeddings", "exec-1", "a?b#c", "x..y", "a/b", "..", "."]
)
def test_ordinary_and_odd_ids_are_accepted_for_encoding(value):
    assert check_id(value, "job name") == value


def test_the_id_character_check_is_exactly_the_unicode_categories_it_stands_for():
    # Control, surrogate and line/paragraph separator characters, over every code point.
    refused = {"Cc", "Cs", "Zl", "Zp"}
    for point in range(0x110000):
        char = chr(point)
        expected = unicodedata.category(char) in refused
        assert (not is_valid_id(f"a{char}b")) is expected, hex(point)

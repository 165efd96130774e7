"""The ApiTokens contract on SQLite and PostgreSQL."""

from __future__ import annotations

from advisor.store.api_tokens import API_TOKEN_PREFIX, ApiTokens

T0 = 1_764_000_000.0


def test_a_new_token_is_shown_once_and_checks_until_it_is_revoked(api_tokens: ApiTokens) -> None:
    secret, record = api_tokens.create(now=T0, note="dashboard")

    assert secret.startswith(API_TOKEN_PREFIX)
    assert api_tokens.check(secret)
    assert api_tokens.revoke(record.token_id, now=T0 + 60)
    assert not api_tokens.check(secret)


def test_unknown_secrets_and_other_kinds_of_secret_do_not_check(api_tokens: ApiTokens) -> None:
    secret, _ = api_tokens.create(now=T0)

    assert not api_tokens.check(secret + "x")
    assert not api_tokens.check("fsc_" + secret.removeprefix(API_TOKEN_PREFIX))
    assert not api_tokens.check("")


def test_tokens_are_listed_oldest_first_revoked_ones_too_without_secrets(
    api_tokens: ApiTokens,
) -> None:
    first_secret, first = api_tokens.create(now=T0, note="first")
    _, second = api_tokens.create(now=T0 + 1)
    api_tokens.revoke(first.token_id, now=T0 + 2)
    api_tokens.revoke(first.token_id, now=T0 + 3)

    listed = api_tokens.list()

    assert [(t.token_id, t.revoked_at, t.note) for t in listed] == [
        (first.token_id, T0 + 2, "first"),
        (second.token_id, None, None),
    ]
    assert first_secret not in repr(listed)


def test_revoking_an_unknown_token_is_false(api_tokens: ApiTokens) -> None:
    assert not api_tokens.revoke("0123456789abcdef", now=T0)


def test_a_token_is_identified_by_its_secret_until_it_is_revoked(api_tokens: ApiTokens) -> None:
    secret, record = api_tokens.create(now=T0, note="review UI")
    api_tokens.create(now=T0 + 1)

    assert api_tokens.identify(secret) == record
    assert api_tokens.identify(secret + "x") is None
    api_tokens.revoke(record.token_id, now=T0 + 2)
    assert api_tokens.identify(secret) is None

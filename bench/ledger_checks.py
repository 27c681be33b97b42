"""P3's invariants of a double-entry ledger, as SQL over one set of ledger tables.

The same checks run over the real tables (``timebank_*``) and over the naive ones
(``bench_naive_*``); each returns a number of violations (0 in a sound ledger):

* ``journal``: the sum of every posting is not zero (1 if it is not);
* ``unbalanced``: transactions whose postings do not sum to zero, or that have fewer than two
  postings (a posting half-written when its process died counts here);
* ``cached≠journal``: accounts whose cached balance differs from the sum of their postings (a
  lost update, or a posting whose balance change never happened);
* ``overdrawn``: person accounts with a negative balance, cached or by the journal;
* ``dup keys``: transactions beyond the first for one idempotency key;
* ``not conserved``: the cached balances of all accounts do not sum to zero, or the accounts
  under test do not hold what they held before plus what was put in (1 if not).
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.harness import execute

CHECKS = ("journal", "unbalanced", "cached≠journal", "overdrawn", "dup keys", "not conserved")

REAL = {
    "account": "timebank_account",
    "transaction": "timebank_transaction",
    "posting": "timebank_posting",
}


def balance_sum(tables: dict[str, str], account_ids: Sequence[int]) -> int:
    row = execute(
        f"SELECT coalesce(sum(balance), 0) FROM {tables['account']} "  # noqa: S608
        f"WHERE id = ANY(%s)",
        [list(account_ids)],
    )
    return int(row[0])


def violations(
    tables: dict[str, str],
    *,
    account_ids: Sequence[int],
    expected_sum: int,
) -> dict[str, int]:
    acc, tx, po = tables["account"], tables["transaction"], tables["posting"]
    out: dict[str, int] = {}
    journal = int(execute(f"SELECT coalesce(sum(amount), 0) FROM {po}")[0])  # noqa: S608
    out["journal"] = int(journal != 0)
    out["unbalanced"] = int(
        execute(
            f"SELECT count(*) FROM {tx} t LEFT JOIN (SELECT transaction_id, "  # noqa: S608
            f"sum(amount) AS s, count(*) AS n FROM {po} GROUP BY transaction_id) p "
            f"ON p.transaction_id = t.id WHERE p.n IS NULL OR p.n < 2 OR p.s <> 0"
        )[0]
    )
    out["cached≠journal"] = int(
        execute(
            f"SELECT count(*) FROM {acc} a LEFT JOIN (SELECT account_id, "  # noqa: S608
            f"sum(amount) AS s FROM {po} GROUP BY account_id) p ON p.account_id = a.id "
            f"WHERE a.balance <> coalesce(p.s, 0)"
        )[0]
    )
    out["overdrawn"] = int(
        execute(
            f"SELECT count(*) FROM {acc} a LEFT JOIN (SELECT account_id, "  # noqa: S608
            f"sum(amount) AS s FROM {po} GROUP BY account_id) p ON p.account_id = a.id "
            f"WHERE a.kind = 'person' AND (a.balance < 0 OR coalesce(p.s, 0) < 0)"
        )[0]
    )
    out["dup keys"] = int(
        execute(
            f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {tx} "  # noqa: S608
            f"GROUP BY idempotency_key HAVING count(*) > 1) d"
        )[0]
    )
    total = int(execute(f"SELECT coalesce(sum(balance), 0) FROM {acc}")[0])  # noqa: S608
    out["not conserved"] = int(total != 0 or balance_sum(tables, account_ids) != expected_sum)
    return out


def describe(v: dict[str, int]) -> str:
    bad = {k: n for k, n in v.items() if n}
    if not bad:
        return "0 violations"
    return (
        f"{sum(bad.values()):,} violations ("
        + ", ".join(f"{k} {n:,}" for k, n in bad.items())
        + ")"
    )

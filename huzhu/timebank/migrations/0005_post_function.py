"""On PostgreSQL: ``timebank_post(...)``, one posting of the ledger in one round trip.

``huzhu.timebank.fastpath`` calls it from ``post_transaction`` inside the action's database
transaction (the commit stays Python's). In order, under the same rules as the ORM path of
``huzhu.timebank.actions.ledger``:

1. lock every account of the postings in primary-key order (``SELECT … ORDER BY id FOR UPDATE``:
   concurrent postings cannot deadlock); an unknown account → SQLSTATE ``HZ404``;
2. the idempotency key exists (written before, or by a concurrent writer that committed while
   we waited for the locks) → return its transaction (``created`` false), write nothing;
3. every person account whose change is negative must keep ``balance − held ≥ 0`` → else
   SQLSTATE ``HZ409``, DETAIL ``{"account": id, "available": n}`` (Python: "timebank.insufficient");
4. a reversal of a transaction already reversed → SQLSTATE ``HZ410``;
5. the transaction row, ``ON CONFLICT (idempotency_key) DO NOTHING``: a concurrent replay that
   committed first wins, its id is returned (``created`` false);
6. the postings (in the order given), the cached balances, and — when ``p_audit`` is not NULL —
   the audit entry, built by Python exactly as ``huzhu.audit.service.record`` builds it, with
   the transaction's id filled in here (``target_id``, and appended to ``target_label``).

Returns one row: the transaction id, whether it was written now, and the touched accounts'
ids, balances and held amounts after the posting (pk order; NULL on a replay).

A no-op on SQLite: there the ORM path posts.
"""

from django.db import migrations

FUNCTION = "timebank_post"
SIGNATURE = (
    "text, text, text, bigint, bigint, bigint, bigint, text, text, integer, text, timestamptz, "
    "bigint[], bigint[], bigint[], jsonb"
)

CREATE = r"""
CREATE OR REPLACE FUNCTION timebank_post(
    p_key text,
    p_kind text,
    p_memo text,
    p_actor bigint,
    p_on_behalf_of bigint,
    p_community bigint,
    p_reverses bigint,
    p_reason text,
    p_evidence text,
    p_service_minutes integer,
    p_reference text,
    p_created_at timestamptz,
    p_accounts bigint[],
    p_amounts bigint[],
    p_communities bigint[],
    p_audit jsonb
) RETURNS TABLE (tx_id bigint, created boolean, account_ids bigint[], balances bigint[],
                 helds bigint[])
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_id bigint;
    v_wanted integer;
    v_ids bigint[] := '{}';
    v_deltas bigint[] := '{}';
    v_balances bigint[] := '{}';
    v_helds bigint[] := '{}';
    v_short bigint;
    v_available bigint;
    r record;
BEGIN
    -- Lock every account in primary-key order; note the first person account left short.
    FOR r IN
        SELECT a.id, a.kind, a.balance, a.held, d.delta
        FROM timebank_account a
        JOIN (
            SELECT l.account, sum(l.amount)::bigint AS delta
            FROM unnest(p_accounts, p_amounts) AS l(account, amount)
            GROUP BY l.account
        ) AS d ON d.account = a.id
        ORDER BY a.id
        FOR UPDATE OF a
    LOOP
        v_ids := v_ids || r.id;
        v_deltas := v_deltas || r.delta;
        v_balances := v_balances || (r.balance + r.delta);
        v_helds := v_helds || r.held;
        IF v_short IS NULL AND r.kind = 'person' AND r.delta < 0
           AND r.balance + r.delta - r.held < 0 THEN
            v_short := r.id;
            v_available := r.balance - r.held;
        END IF;
    END LOOP;
    SELECT count(DISTINCT x) INTO v_wanted FROM unnest(p_accounts) AS x;
    IF cardinality(v_ids) <> v_wanted THEN
        RAISE EXCEPTION 'timebank.account.unknown' USING ERRCODE = 'HZ404';
    END IF;

    -- The key: written before, or by a concurrent writer that committed while we waited.
    SELECT t.id INTO v_id FROM timebank_transaction t WHERE t.idempotency_key = p_key;
    IF FOUND THEN
        RETURN QUERY SELECT v_id, false, NULL::bigint[], NULL::bigint[], NULL::bigint[];
        RETURN;
    END IF;

    IF v_short IS NOT NULL THEN
        RAISE EXCEPTION 'timebank.insufficient' USING
            ERRCODE = 'HZ409',
            DETAIL = json_build_object('account', v_short, 'available', v_available)::text;
    END IF;

    IF p_reverses IS NOT NULL AND EXISTS (
        SELECT 1 FROM timebank_transaction t WHERE t.reverses_id = p_reverses
    ) THEN
        RAISE EXCEPTION 'timebank.reversal.already' USING ERRCODE = 'HZ410';
    END IF;

    INSERT INTO timebank_transaction (
        kind, memo, actor_id, on_behalf_of_id, community_id, created_at, idempotency_key,
        reverses_id, reason, evidence, service_minutes, reference
    ) VALUES (
        p_kind, p_memo, p_actor, p_on_behalf_of, p_community, p_created_at, p_key,
        p_reverses, p_reason, p_evidence, p_service_minutes, p_reference
    )
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        -- A concurrent writer of the key committed first: its transaction is the answer.
        SELECT t.id INTO v_id FROM timebank_transaction t WHERE t.idempotency_key = p_key;
        RETURN QUERY SELECT v_id, false, NULL::bigint[], NULL::bigint[], NULL::bigint[];
        RETURN;
    END IF;

    INSERT INTO timebank_posting (transaction_id, account_id, amount, community_id)
    SELECT v_id, l.account, l.amount, l.community
    FROM unnest(p_accounts, p_amounts, p_communities) WITH ORDINALITY
        AS l(account, amount, community, n)
    ORDER BY l.n;

    UPDATE timebank_account a SET balance = a.balance + d.delta
    FROM unnest(v_ids, v_deltas) AS d(id, delta)
    WHERE a.id = d.id AND d.delta <> 0;

    IF p_audit IS NOT NULL THEN
        INSERT INTO audit_auditentry (
            created_at, actor_id, actor_label, on_behalf_of_id, code, target_type, target_id,
            target_label, alliance_id, community_id, scope, old_values, new_values, ip
        ) VALUES (
            (p_audit ->> 'created_at')::timestamptz,
            (p_audit ->> 'actor_id')::bigint,
            p_audit ->> 'actor_label',
            (p_audit ->> 'on_behalf_of_id')::bigint,
            p_audit ->> 'code',
            p_audit ->> 'target_type',
            v_id::text,
            left((p_audit ->> 'target_label') || v_id::text, 200),
            (p_audit ->> 'alliance_id')::bigint,
            (p_audit ->> 'community_id')::bigint,
            p_audit ->> 'scope',
            p_audit -> 'old_values',
            p_audit -> 'new_values',
            (p_audit ->> 'ip')::inet
        );
    END IF;

    RETURN QUERY SELECT v_id, true, v_ids, v_balances, v_helds;
END
$fn$;
"""

DROP = f"DROP FUNCTION IF EXISTS {FUNCTION}({SIGNATURE});"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("timebank", "0004_append_only_triggers_more"),
        ("audit", "0002_append_only_trigger"),
    ]
    operations = [migrations.RunPython(forward, backward)]

"""5. Every list a user or an organisation sees, among a million envelopes (part of ``make bench``).

On a throwaway PostgreSQL database (``QIANSHU_BENCH_LISTS_DB``, default ``qianshu_bench_lists``,
on the server of ``QIANSHU_BENCH_DATABASE_URL``) this section

* seeds 1,000,000 envelopes with 5,000,000 recipients (four acting parties and a CC each),
  1,000,000 documents and 1,025,000 fields, 200,000 users and 2,000 organisations with bulk
  ``INSERT … SELECT`` over ``generate_series`` (the rows are made in the database, so the
  bench process stays small); the tables' secondary indexes and constraints are dropped for
  the inserts and rebuilt after them (the indexes in two sessions at once), then
  ``VACUUM ANALYZE`` (target: under 3 minutes);
* times, through the Django test client (server time, no network), every list, search and
  count of three people — alice, a person with many tasks (10,000 envelopes, ~750 waiting for
  her), bob, the administrator and seal keeper of an organisation that sent 100,000 envelopes,
  and charlie, with a handful — and the organisation's API list (``GET /api/v1/envelopes``):
  median and p95 of 60 requests each (5 with ``--quick``), against the 50 ms target — the
  p95 of 20 is their second slowest, which one pause of the host decides (alice's 发起方 on
  one kept database, four rounds of 20: 38–61 ms; two of 60: 39 ms);
* runs ``EXPLAIN (FORMAT JSON)`` on every query each of those requests made and prints FAIL
  (the section's result is then non-zero) when a plan reads one of the big tables (envelopes,
  recipients, documents, fields, template uses, audit events) with a sequential scan — at the
  ``--quick`` size, where reading a small table whole is the right plan (2,500 template uses,
  every one of them asked for), with sequential scans disabled (a weaker check: PostgreSQL
  may then read a whole index instead; the full size checks the plans as they are);
* prints the peak RSS of this process (target under 500 MB).

``python -m benchmarks --only lists [--quick]`` runs it alone (``--quick``: 50,000 envelopes);
``QIANSHU_BENCH_LISTS_KEEP=1`` keeps the database afterwards (to study a plan), and
``QIANSHU_BENCH_LISTS_REUSE=1`` measures again on the kept database (migrated) without seeding.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from benchmarks import database, summary

BENCH_DB = os.environ.get("QIANSHU_BENCH_LISTS_DB", "qianshu_bench_lists")
TARGET_MS = 50.0
TARGET_SEED_S = 180.0
TARGET_RSS_MB = 500.0
MAINTENANCE_WORK_MEM = "256MB"  # for the sessions that rebuild the indexes after seeding
ALICE_NAME = "王爱丽"  # her real name, and the name on her steps (batch signing checks it)

#: Tables a list query must never read with a sequential scan at this size.
BIG_TABLES = frozenset(
    {
        "envelopes_envelope",
        "envelopes_recipient",
        "envelopes_document",
        "envelopes_field",
        "envelopes_auditevent",
        "doctemplates_templateuse",
    }
)
#: Tables filled in bulk (their secondary indexes and constraints are rebuilt afterwards).
COPIED = (
    "accounts_user",
    "orgs_organization",
    "envelopes_envelope",
    "envelopes_recipient",
    "envelopes_document",
    "envelopes_field",
    "doctemplates_templateuse",
)

SCENES = ("企业签约", "年度考核", "采购合同", "劳动合同", "", "")
TITLES = ("采购合同", "劳动合同", "保密协议", "年度考核表", "租赁合同", "服务协议", "授权委托书")
# Envelope statuses by share (percent) of a mature installation.
STATUS_SHARES = (
    ("in_progress", 30),
    ("completed", 52),
    ("voided", 3),
    ("rejected", 4),
    ("recalled", 3),
    ("expired", 3),
    ("returned", 2),
    ("draft", 3),
)
STATUSES = [status for status, share in STATUS_SHARES for _ in range(share)]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the database -----------------------------------------------------------------------------


# --- seeding ----------------------------------------------------------------------------------


@dataclass
class Size:
    envelopes: int
    users: int
    orgs: int

    @classmethod
    def of(cls, quick: bool) -> Size:
        if quick:
            return cls(envelopes=50_000, users=10_000, orgs=200)
        return cls(envelopes=1_000_000, users=200_000, orgs=2_000)


@dataclass
class World:
    """The people and things the measured requests use."""

    alice: Any
    bob: Any
    charlie: Any
    org: Any
    template_uuid: str
    batch_number: str
    api_key: str
    seed_seconds: float = 0.0
    counts: dict[str, int] | None = None


def _without_indexes(cursor: Any, table: str) -> tuple[list[str], list[str]]:
    """Drop ``table``'s constraints (but its primary key) and secondary indexes; returns the
    statements that put them back: the indexes', then the constraints'."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('u', 'f', 'c')",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = %s::regclass AND NOT indisprimary AND indexrelid NOT IN "
        "(SELECT conindid FROM pg_constraint WHERE contype IN ('u', 'p', 'x'))",
        [table],
    )
    indexes = cursor.fetchall()
    restore: list[str] = []
    # Unique constraints before foreign keys (a key may point at a unique column). The foreign
    # keys come back NOT VALID: the generated rows are consistent by construction, and checking
    # five million recipients against their envelopes, users and organisations again would take
    # longer than making them.
    for kind in ("c", "u", "f"):
        restore += [
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            + (" NOT VALID" if kind == "f" and "NOT VALID" not in definition else "")
            for name, definition, contype in constraints
            if contype == kind
        ]
    for name, _definition, _contype in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in indexes], restore


@dataclass
class Plan:
    """Who is who among the generated rows (ids past the rows made through the ORM)."""

    size: Size
    user0: int  # first generated user id
    org0: int
    alice: int
    alice_phone: str
    alice_name: str
    bob_org: int
    charlie: int
    version: int
    batch: int
    blob: str

    def params(self) -> dict[str, int | str]:
        return {
            "n": self.size.envelopes,
            "users": self.size.users,
            "orgs": self.size.orgs,
            "user0": self.user0,
            "org0": self.org0,
            "alice": self.alice,
            "alice_phone": self.alice_phone,
            "alice_name": self.alice_name,
            "bob_org": self.bob_org,
            "charlie": self.charlie,
            "version": self.version,
            "batch": self.batch,
            "blob": self.blob,
        }


# Generated in the database (INSERT … SELECT over generate_series: nothing crosses the wire and
# the bench process stays small). Envelope i: alice is its first signer when i % 100 = 3 (one in
# ten of those before binding, by her phone), its initiator when i % 200 = 0 and its CC when
# i % 250 = 9; it is sent for bob's organisation when i % 10 = 1, and that organisation is its
# seal party when i % 40 = 5 (with a declared seal field); charlie approves it when
# i % 50,000 = 17. Its status follows STATUS_SHARES; in progress, the turn is one of the four
# acting parties.
_STATUS_SQL = (
    "CASE "
    + " ".join(
        f"WHEN abs(hashint8(i)) %% 100 < {sum(share for _s, share in STATUS_SHARES[: k + 1])} "
        f"THEN '{status}'"
        for k, (status, _share) in enumerate(STATUS_SHARES)
    )
    + " END"
)
SEED_SQL = (
    """
INSERT INTO accounts_user (id, password, is_superuser, phone, email, display_name, language,
    is_staff, is_active, date_joined, session_salt)
SELECT %(user0)s + n, '!', false, '139' || lpad((%(user0)s + n)::text, 8, '0'), '',
    '用户' || (%(user0)s + n), 'zh-hans', false, true, now(), 's'
FROM generate_series(0, %(users)s - 1) n""",
    """
INSERT INTO orgs_organization (id, uuid, kind, name, credit_code, registration_number,
    legal_rep_name, status, method, rejected_reason, needs_review, created_at, verified_at,
    created_by_id, name_key, privacy_version)
SELECT %(org0)s + n, md5('org' || n)::uuid, 'enterprise', '厦门企业' || n || '有限公司',
    '91350' || lpad(n::text, 13, '0'), '', '', 'verified', 'operator', '', false, now(), now(),
    %(alice)s, '厦门企业' || n || '有限公司', ''
FROM generate_series(0, %(orgs)s - 1) n""",
    f"""
INSERT INTO envelopes_envelope (id, uuid, number, kind, title, message, status, deadline,
    auto_remind, void_reason, created_at, sent_at, completed_at, ended_at, end_reason,
    initiator_id, initiator_org_id, allow_sms_signing, audit_count, audit_head,
    audit_anchored_count, scene, return_snapshot)
SELECT i, md5('envelope' || i)::uuid, 'QS' || lpad(i::text, 12, '0'), 'standard',
    (ARRAY{list(TITLES)})[1 + abs(hashint8(i + 7)) %% {len(TITLES)}] || ' ' || i, '', status,
    CASE WHEN status <> 'draft' THEN sent + interval '30 days' END, true, '',
    sent - interval '5 minutes', CASE WHEN status <> 'draft' THEN sent END,
    CASE WHEN status = 'completed' THEN sent + interval '2 days' END,
    CASE WHEN status IN ('voided', 'rejected', 'recalled', 'expired')
        THEN sent + interval '3 days' END, '',
    CASE WHEN i %% 200 = 0 THEN %(alice)s
        ELSE %(user0)s + floor(random() * %(users)s)::bigint END,
    CASE WHEN i %% 10 = 1 THEN %(bob_org)s
        WHEN i %% 10 < 5 THEN %(org0)s + floor(random() * %(orgs)s)::bigint END,
    true, 0, repeat('0', 64), 0,
    (ARRAY{list(SCENES)})[1 + abs(hashint8(i + 11)) %% {len(SCENES)}], '{{}}'
FROM (SELECT i, {_STATUS_SQL} AS status,
        now() - (i * 30 + floor(random() * 30)) * interval '1 second' AS sent
    FROM generate_series(1, %(n)s) i) g""",
    """
INSERT INTO envelopes_recipient (id, routing_order, role, name, phone, email, contact_name,
    org_credit_code, required_seal_kind, status, reason, done_at, envelope_id, org_id, user_id,
    envelope_status, envelope_sent_at)
SELECT (id - 1) * 5 + s, CASE WHEN s < 5 THEN s ELSE 1 END,
    (ARRAY['sign', 'sign', 'seal', 'approve', 'cc'])[s],
    CASE WHEN (s = 1 AND id %% 100 = 3) OR (s = 5 AND id %% 250 = 9) THEN %(alice_name)s
        ELSE '签署方' || s END,
    CASE WHEN s = 3 THEN '135' || lpad(floor(random() * 1e8)::text, 8, '0')
        WHEN (s = 1 AND id %% 100 = 3) OR (s = 5 AND id %% 250 = 9) THEN %(alice_phone)s
        WHEN uid IS NULL THEN ''
        ELSE '139' || lpad(uid::text, 8, '0') END,
    '', '', '', '', state, '',
    CASE WHEN state = 'done' THEN sent_at + s * interval '1 hour' END, id,
    CASE WHEN s = 3 AND id %% 40 = 5 THEN %(bob_org)s
        WHEN s = 3 THEN %(org0)s + floor(random() * %(orgs)s)::bigint END,
    uid, status, sent_at
FROM (SELECT e.id, e.sent_at, e.status, s,
        CASE WHEN s = 3 OR (s = 1 AND e.id %% 1000 = 3) THEN NULL
            WHEN s = 1 AND e.id %% 100 = 3 THEN %(alice)s
            WHEN s = 5 AND e.id %% 250 = 9 THEN %(alice)s
            WHEN s = 4 AND e.id %% 50000 = 17 THEN %(charlie)s
            ELSE %(user0)s + floor(random() * %(users)s)::bigint END AS uid,
        CASE WHEN e.status = 'draft' OR s = 5 THEN 'waiting'
            WHEN e.status = 'completed' OR s < turn THEN 'done'
            WHEN e.status = 'in_progress' AND s = turn THEN
                CASE WHEN random() < 0.67 THEN 'pending' ELSE 'viewed' END
            WHEN e.status = 'rejected' AND s = turn THEN 'rejected'
            ELSE 'waiting' END AS state
    FROM (SELECT *, 1 + abs(hashint8(id + 3)) %% 4 AS turn FROM envelopes_envelope) e
    CROSS JOIN generate_series(1, 5) s) r""",
    """
INSERT INTO envelopes_document (id, position, name, revision, page_boxes, page_rotations,
    certified, finished, current_id, original_id, envelope_id, archive_algorithms)
SELECT i, 0, '合同' || i || '.pdf', 0, '[]', '[]', false, false, %(blob)s, %(blob)s, i, ''
FROM generate_series(1, %(n)s) i""",
    """
INSERT INTO envelopes_field (id, kind, page, x1, y1, x2, y2, pages, label, value,
    placed_by_signer, document_id, envelope_id, recipient_id)
SELECT i, 'signature', 0, 380, 60, 530, 210, '[]', '', '', false, i, i, (i - 1) * 5 + 1
FROM generate_series(1, %(n)s) i""",
    # bob's organisation's seal steps have a declared seal field (批量签署 seals them).
    """
INSERT INTO envelopes_field (id, kind, page, x1, y1, x2, y2, pages, label, value,
    placed_by_signer, document_id, envelope_id, recipient_id)
SELECT %(n)s + i, 'seal', 0, 300, 260, 460, 420, '[]', '', '', false, i, i, (i - 1) * 5 + 3
FROM generate_series(5, %(n)s, 40) i""",
    """
INSERT INTO doctemplates_templateuse (id, envelope_id, version_id, batch_id, created_at)
SELECT i, i, %(version)s, CASE WHEN i <= 20000 THEN %(batch)s END, now()
FROM generate_series(20, %(n)s, 20) i""",
)


def _personas(size: Size) -> tuple[World, Plan]:
    """alice, bob (with his organisation, its seal granted to him, a template, a batch and an
    API key) and charlie, through the ORM."""
    from django.db.models import Max
    from tests.support.personas import grant_seal, make_verified_org, make_verified_person
    from tests.support.seals import make_seal

    from qianshu.accounts.actions import do_save_signature
    from qianshu.accounts.models import User
    from qianshu.accounts.signatures import SignatureImage
    from qianshu.api.actions.keys import do_create_api_key
    from qianshu.core.meta import COMMAND
    from qianshu.doctemplates.models import Batch, Template, TemplateVersion
    from qianshu.orgs.models import Organization
    from qianshu.pki.actions import do_init_pki
    from qianshu.signing import stamps
    from qianshu.storage.actions import do_store_blob

    alice = make_verified_person("alice", "13800000001", real_name=ALICE_NAME)
    # Her saved signature: 批量签署 applies it to her tasks.
    do_save_signature(
        SignatureImage.from_png(stamps.render_text_image(ALICE_NAME, height_px=96)),
        source="drawn",
        actor=alice,
        meta=COMMAND,
    )
    bob = make_verified_person("bob", "13800000002", real_name="李博")
    charlie = make_verified_person("charlie", "13800000003", real_name="张查理")
    org = make_verified_org(bob, name="厦门千数科技有限公司")
    do_init_pki(name="Bench")  # the seal's certificate
    grant_seal(make_seal(org, bob), bob, bob)
    template = Template.objects.create(name="采购合同模板", owner=bob, org=org)
    version = TemplateVersion.objects.create(
        template=template, number=1, title="采购合同", created_by=bob
    )
    batch = Batch.objects.create(
        number="PL202612050001", version=version, created_by=bob, file_name="名单.xlsx"
    )
    _key, plain = do_create_api_key(
        org, name="bench", scopes=["envelopes:read"], actor=bob, meta=COMMAND
    )
    blob = do_store_blob(b"%PDF-1.7 bench", content_type="application/pdf")
    user0 = (User.objects.aggregate(m=Max("pk"))["m"] or 0) + 1
    org0 = (Organization.objects.aggregate(m=Max("pk"))["m"] or 0) + 1
    world = World(alice, bob, charlie, org, str(template.uuid), batch.number, plain)
    plan = Plan(
        size=size,
        user0=user0,
        org0=org0,
        alice=alice.pk,
        alice_phone=alice.phone,
        alice_name=ALICE_NAME,
        bob_org=org.pk,
        charlie=charlie.pk,
        version=version.pk,
        batch=batch.pk,
        blob=blob.sha256,
    )
    return world, plan


def _create_indexes(statements: list[str], sessions: int = 2) -> None:
    """Run the ``CREATE INDEX`` statements in ``sessions`` sessions at once, the GIN (trigram)
    ones first: PostgreSQL builds a B-tree with parallel workers but a GIN index in one
    process, so one session alone leaves a core idle while it builds the GIN ones. (An index
    build takes a SHARE lock on its table, which does not conflict with another build's.)"""
    from concurrent.futures import ThreadPoolExecutor

    import psycopg

    def build(statement: str) -> None:
        with psycopg.connect(database.url(BENCH_DB), autocommit=True) as conn:
            conn.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")  # type: ignore[call-overload]
            conn.execute(statement)  # type: ignore[call-overload]

    with ThreadPoolExecutor(sessions) as pool:
        list(pool.map(build, sorted(statements, key=lambda s: "USING gin" not in s)))


def seed(size: Size) -> World:
    """The million envelopes (see the module docstring); prints the time it took."""
    from django.db import connection

    start = time.perf_counter()
    world, plan = _personas(size)
    with connection.cursor() as cursor:
        cursor.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        cursor.execute("SELECT setseed(0.2026)")
        indexes: list[str] = []
        constraints: list[str] = []
        for table in COPIED:
            table_indexes, table_constraints = _without_indexes(cursor, table)
            indexes += table_indexes
            constraints += table_constraints
        inserted = time.perf_counter()
        # The rows carry their envelope's status and sending time themselves: the triggers
        # that keep them (migration envelopes 0016) would look them up again for each of five
        # million rows.
        for table in COPIED:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for statement in SEED_SQL:
            cursor.execute(statement, plan.params())
        for table in COPIED:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        inserted = time.perf_counter() - inserted
        rebuilt = time.perf_counter()
        _create_indexes(indexes)
        for statement in constraints:
            cursor.execute(statement)
        rebuilt = time.perf_counter() - rebuilt
        for table in COPIED:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        analysed = time.perf_counter()
        cursor.execute("VACUUM ANALYZE")
        analysed = time.perf_counter() - analysed
        counts = {}
        for table in ("envelopes_envelope", "envelopes_recipient"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
    world.seed_seconds = time.perf_counter() - start
    print(
        f"   seeded {counts['envelopes_envelope']:,} envelopes, "
        f"{counts['envelopes_recipient']:,} recipients in {world.seed_seconds:.1f} s "
        f"(insert {inserted:.1f} s, indexes and constraints {rebuilt:.1f} s, "
        f"vacuum and analyse {analysed:.1f} s; target < {TARGET_SEED_S:.0f} s)"
    )
    return world


# --- measuring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    who: str  # alice, bob, charlie or "org API"
    label: str
    url: str
    params: dict[str, str]


def scenarios(world: World) -> list[Scenario]:
    tabs = (
        ("todo", "待我签署"),
        ("others", "待他人签署"),
        ("completed", "已完成签署"),
        ("voided", "已作废"),
        ("cc", "抄送我的"),
    )
    out = []
    for who in ("alice", "bob", "charlie"):
        for slug, label in tabs:
            out.append(Scenario(who, label, "/envelopes/", {"tab": slug}))
        out.append(Scenario(who, "草稿箱", "/envelopes/drafts/", {}))
    day = (dt.date.today() - dt.timedelta(days=30)).isoformat()
    searches: list[tuple[str, str, dict[str, str]]] = [
        ("alice", "搜索 任务名称", {"tab": "completed", "q": "采购合同"}),
        ("alice", "搜索 任务编号", {"tab": "completed", "q": "QS0000001"}),
        ("alice", "搜索 无结果", {"tab": "completed", "q": "不存在的合同"}),
        ("alice", "高级搜索 发起方", {"tab": "completed", "initiator": "用户1"}),
        ("alice", "高级搜索 发起时间", {"tab": "completed", "from": day, "to": day}),
        ("alice", "高级搜索 场景", {"tab": "completed", "scene": "采购合同"}),
        ("alice", "高级搜索 模板", {"tab": "completed", "template": world.template_uuid}),
        ("alice", "待我签署 搜索", {"tab": "todo", "q": "合同"}),
        ("alice", "已完成 第 50 页", {"tab": "completed", "page": "50"}),
        ("bob", "搜索 任务名称", {"tab": "completed", "q": "采购合同"}),
        ("bob", "高级搜索 批次号", {"tab": "others", "batch": world.batch_number}),
        ("bob", "高级搜索 模板", {"tab": "completed", "template": world.template_uuid}),
        ("bob", "已完成 第 200 页", {"tab": "completed", "page": "200"}),
    ]
    out += [Scenario(who, label, "/envelopes/", params) for who, label, params in searches]
    out.append(Scenario("alice", "批量签署 全部", "/envelopes/batch-sign/", {"all": "1"}))
    out.append(Scenario("bob", "批量签署 全部", "/envelopes/batch-sign/", {"all": "1"}))
    api = "/api/v1/envelopes"
    out.append(Scenario("org API", "全部", api, {"limit": "20"}))
    out.append(Scenario("org API", "签署中", api, {"status": "in_progress", "limit": "20"}))
    out.append(Scenario("org API", "按编号", api, {"number": "QS000000000011"}))
    return out


def _plans(plan: Any) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plans(child)


def seq_scans(sql: str, *, index_possible: bool = False) -> list[str]:
    """The big tables ``sql``'s plan reads with a sequential scan. ``index_possible``: planned
    with sequential scans disabled, for tables too small for the plan they would have at full
    size (PostgreSQL still scans a table no index of which it can use)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if index_possible:
            cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        (document,) = cursor.fetchone()
    plans = document if isinstance(document, list) else json.loads(document)
    found = []
    for top in plans:
        for node in _plans(top["Plan"]):
            if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in BIG_TABLES:
                found.append(node["Relation Name"])
    return found


def _timed(get: Callable[[], Any], n: int) -> tuple[float, float]:
    get()  # warm-up
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = get()
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def measure(world: World, requests: int, envelopes: int) -> bool:
    """Print each list's server time and plan check; False when one failed."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from qianshu import warmup

    warmup.warm_up()  # as a web process starts (wsgi.py), before its first request

    clients = {}
    for who in ("alice", "bob", "charlie"):
        clients[who] = Client()
        clients[who].force_login(getattr(world, who))
    clients["org API"] = Client(HTTP_AUTHORIZATION=f"Bearer {world.api_key}")
    ok = True
    p95s: list[tuple[float, str]] = []
    scanned: set[str] = set()
    # Below the full size, small tables are rightly read whole: is there an index for it?
    small = envelopes < Size.of(quick=False).envelopes
    if small:
        print("   (plans checked with sequential scans disabled: small tables are read whole)")
    print(f"   {'who':8s}{'list':18s}{'median':>9s}{'p95':>9s}  queries  plan")
    for scenario in scenarios(world):
        client = clients[scenario.who]

        def get(client: Any = client, scenario: Scenario = scenario) -> Any:
            return client.get(scenario.url, scenario.params)

        median, p95 = _timed(get, requests)
        with CaptureQueriesContext(connection) as captured:
            get()
        scans: list[str] = []
        for query in captured.captured_queries:
            sql = query["sql"]
            if sql.lstrip("( ").upper().startswith(("SELECT", "WITH")):
                scans += seq_scans(sql, index_possible=small)
        verdict = "index" if not scans else "FAIL seq scan on " + ", ".join(sorted(set(scans)))
        slow = "" if p95 < TARGET_MS else "  (over target)"
        p95s.append((p95, f"{scenario.who} {scenario.label.strip()}"))
        scanned.update(scans)
        if scans or p95 >= TARGET_MS:
            ok = False
        print(
            f"   {scenario.who:8s}{scenario.label:14s}{median:8.1f} ms{p95:6.1f} ms"
            f"  {len(captured.captured_queries):5d}    {verdict}{slow}"
        )
    over = sorted((p for p in p95s if p[0] >= TARGET_MS), reverse=True)
    summary.record(
        f"lists, searches and counts among {envelopes:,} envelopes: p95 server time",
        f"{len(p95s) - len(over)} of {len(p95s)} under {TARGET_MS:.0f} ms"
        + (f"; slowest {over[0][1]} {over[0][0]:.0f} ms" if over else ""),
        target=f"each < {TARGET_MS:.0f} ms (p95)",
        met=not over,
    )
    summary.record(
        "EXPLAIN of every list query at that size"
        + (" (sequential scans disabled)" if small else ""),
        "sequential scan of " + ", ".join(sorted(scanned)) if scanned else "indexes only",
        target="no sequential scan of a big table",
        met=not scanned,
    )
    return ok


def _kept_world() -> World:
    """The personas of a database kept by an earlier run (``QIANSHU_BENCH_LISTS_KEEP=1``)."""
    from qianshu.accounts.models import User
    from qianshu.api.actions.keys import do_create_api_key
    from qianshu.core.meta import COMMAND
    from qianshu.doctemplates.models import Batch, Template
    from qianshu.orgs.models import Organization

    def person(phone: str) -> Any:
        return User.objects.get(phone=phone)

    bob = person("13800000002")
    org = Organization.objects.get(name="厦门千数科技有限公司")
    _key, plain = do_create_api_key(
        org, name="bench", scopes=["envelopes:read"], actor=bob, meta=COMMAND
    )
    template = Template.objects.get(name="采购合同模板")
    batch = Batch.objects.get(version__template=template)
    world = World(
        person("13800000001"),
        bob,
        person("13800000003"),
        org,
        str(template.uuid),
        batch.number,
        plain,
    )
    return world


def run(*, quick: bool) -> int:
    """Print section 5 alone; 0 when every list met its target, 1 otherwise."""
    size = Size.of(quick)
    requests = 5 if quick else 60
    reuse = os.environ.get("QIANSHU_BENCH_LISTS_REUSE") == "1"
    try:
        if not reuse:
            database.reset(BENCH_DB)
    except Exception as exc:
        print(f"5. Lists skipped: PostgreSQL not reachable ({exc})")
        return 0
    try:
        with tempfile.TemporaryDirectory(prefix="qianshu-bench-") as blobs:
            database.setup_django(BENCH_DB, blobs)
            load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
            print(
                f"5. Every list, search and count among {size.envelopes:,} envelopes "
                f"(PostgreSQL, server time/request over {requests} requests; "
                f"load average {load} on {os.cpu_count()} cores)"
            )
            world = _kept_world() if reuse else seed(size)
            ok = measure(world, requests, size.envelopes)
            seeded_in_time = world.seed_seconds < TARGET_SEED_S * (0.1 if quick else 1)
            ok = ok and seeded_in_time
            if not reuse:
                summary.record(
                    f"seeding {size.envelopes:,} envelopes / {size.envelopes * 5:,} recipients",
                    f"{world.seed_seconds:.0f} s",
                    target=f"< {TARGET_SEED_S * (0.1 if quick else 1):.0f} s",
                    met=seeded_in_time,
                )
            print(
                f"   peak RSS     {rss_mb():8.1f} MB   (target < {TARGET_RSS_MB:.0f} MB; "
                f"lists target: p95 < {TARGET_MS:.0f} ms, no sequential scan of a big table)"
            )
            if rss_mb() >= TARGET_RSS_MB:
                ok = False
            summary.record(
                "peak RSS of the lists process",
                f"{rss_mb():.0f} MB",
                target=f"< {TARGET_RSS_MB:.0f} MB",
                met=rss_mb() < TARGET_RSS_MB,
            )
            print("   " + ("all lists met their targets" if ok else "FAIL: see above"))
            print()
            return 0 if ok else 1
    finally:
        from django.db import connections

        connections.close_all()
        if os.environ.get("QIANSHU_BENCH_LISTS_KEEP") != "1" and not reuse:
            database.drop(BENCH_DB)


def run_in_child(*, quick: bool) -> int:
    """Section 5 in a process of its own (its own database, and its own peak RSS)."""
    import subprocess

    args = [sys.executable, "-m", "benchmarks", "--only", "lists"] + (["--quick"] if quick else [])
    sys.stdout.flush()
    with summary.from_child() as env:
        return subprocess.run(args, check=False, env=env).returncode

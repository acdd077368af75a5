"""Querysets whose SQL is built once per process: the hot, fixed-shape reads of a signing step.

Django builds a queryset's SQL anew on every evaluation. For a read with joins and a lock, such
as the envelope a signing step locks (its initiator, their identity and organisation joined),
building the statement costs more than running it: 2.3 of 3.6 ms, measured. A
:class:`Statement` is declared once, from a function that makes the queryset with stand-ins
for its values (:class:`Marker`); the first evaluation on a database builds the SQL and finds
each stand-in among its parameters, and every later one only puts the values in their places,
runs it, and makes the instances as the queryset itself would (Django's own converters, related
objects from ``select_related``, annotations).

Only a queryset whose SQL does not depend on the values qualifies: a comparison with a single
value (no ``__in`` list, whose placeholders vary with its length), or a list of ids given to
:func:`qianshu.core.sql.id_in`, which PostgreSQL gets as one array parameter. A stand-in that is
not found among the parameters, or that the lookup changed, is refused when the SQL is built,
so a statement cannot silently run with a value left out; one used twice fills both places.
Where ``id_in`` spells a list as placeholders (SQLite), a statement given a list is not built
once: its queryset is made with the values and evaluated each time, with the same results.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from django.db import DatabaseError, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators
from django.db.transaction import TransactionManagementError

M = TypeVar("M", bound=Model)
DB = "default"  # statements run on the default database
_VALUE, _TIME, _IDS = "value", "time", "ids"  # what a value's place takes


class Marker:
    """The stand-in for a statement's ``index``-th value while its SQL is built: an integer, a
    string, a list of ids or a time no real value equals."""

    _BASE = 7_346_019_852_000_000_000
    _LISTED = 7_346_019_853_000_000_000

    def __init__(self, index: int) -> None:
        self.index = index
        self.listed = False  # used as a list of ids

    def as_int(self) -> int:
        return self._BASE + self.index

    def as_str(self) -> str:
        return f"\x1fqianshu-statement-value-{self.index}\x1f"

    def as_ids(self) -> list[int]:
        """A list of ids, for :func:`qianshu.core.sql.id_in`."""
        self.listed = True
        return [self._LISTED + self.index]

    def as_datetime(self) -> dt.datetime:
        """An aware time (given as an aware ``datetime``)."""
        return dt.datetime(2999, 12, 31, 23, 59, 59, self.index, tzinfo=dt.UTC)


class _Given:
    """A value in a marker's place: a statement that is not built once makes its queryset
    with these."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def as_int(self) -> Any:
        return self._value

    as_str = as_ids = as_datetime = as_int


@dataclass(frozen=True)
class _Built:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, int, str], ...]  # (parameter position, value index, VALUE/TIME/IDS)
    compiler: Any
    models: bool
    init_list: tuple[str, ...]
    start: int
    end: int
    populators: tuple[Any, ...]
    annotations: tuple[tuple[str, int], ...]
    locks: bool  # FOR UPDATE or FOR SHARE
    # Django's converters of the selected columns, found once (each evaluation of a queryset
    # finds them again: half of the Python time of running a built statement, measured).
    converters: dict[int, Any]


class Statement(Generic[M]):
    """A queryset shape evaluated with new values each time (see the module docstring).

    ``build(*markers)`` returns the queryset, using ``marker.as_int()``, ``as_str()``,
    ``as_ids()`` or ``as_datetime()`` where a value goes; ``arity`` is the number of values.
    The queryset returns model instances or ``values_list`` rows (not flat, not named).
    ``share``: lock the rows of the queryset's own table ``FOR SHARE`` on PostgreSQL (as
    :func:`qianshu.core.sql.lock_shared` does), which Django's ``select_for_update`` cannot
    say; rows joined by ``select_related`` are read, not locked. A row changed while the
    statement waited for its lock is read as changed (PostgreSQL tests the conditions again on
    the new version); the joined rows are the statement's own snapshot, so join only on keys
    that never change. ``unused``: values the SQL may leave out (a viewer's values that another
    of its lists needs: :mod:`qianshu.envelopes.list_shapes`); by default each must be in it.
    """

    def __init__(
        self,
        build: Callable[..., QuerySet[Any]],
        arity: int,
        *,
        share: bool = False,
        unused: bool = False,
    ) -> None:
        self._build = build
        self._arity = arity
        self._share = share
        self._unused = unused
        # None: not built once on that database (a list of ids where id_in spells placeholders).
        self._built: dict[tuple[str, str], _Built | None] = {}
        self._lock = threading.Lock()

    def objects(self, *values: Any, known: Mapping[str, Model] | None = None) -> list[M]:
        """The instances for ``values``. ``known``: related objects to attach to each instance
        by field name, as a related manager does (``envelope.recipients`` sets each
        recipient's ``envelope``)."""
        return self._objects(values, known)[1]

    def get(self, *values: Any, known: Mapping[str, Model] | None = None) -> M:
        """The one instance for ``values``; raises the model's ``DoesNotExist`` when there is
        none (and ``MultipleObjectsReturned`` when the statement finds more)."""
        model, found = self._objects(values, known)
        if not found:
            raise model.DoesNotExist(f"{model.__name__} matching query does not exist.")
        if len(found) > 1:
            raise model.MultipleObjectsReturned(f"get() returned {len(found)} objects")
        return found[0]

    def _objects(
        self, values: Sequence[Any], known: Mapping[str, Model] | None
    ) -> tuple[Any, list[M]]:
        built = self._ready(values)
        if built is None:
            queryset = self._fresh(values)
            if queryset._iterable_class is not ModelIterable:
                raise TypeError("a values_list statement returns rows(), not objects()")
            out = list(queryset)
            model: Any = queryset.model
        else:
            if not built.models:
                raise TypeError("a values_list statement returns rows(), not objects()")
            model = built.compiler.query.model
            out = []
            for row in self._execute(built, values):
                obj = model.from_db(DB, built.init_list, row[built.start : built.end])
                for populator in built.populators:
                    populator.populate(row, obj)
                for name, position in built.annotations:
                    setattr(obj, name, row[position])
                out.append(obj)
        for name, value in (known or {}).items():
            field = model._meta.get_field(name)
            for obj in out:
                field.set_cached_value(obj, value)
        return model, out

    def rows(self, *values: Any) -> list[tuple[Any, ...]]:
        """The ``values_list`` rows for ``values``, converted as the queryset would."""
        built = self._ready(values)
        if built is None:
            queryset = self._fresh(values)
            if queryset._iterable_class is not ValuesListIterable:
                raise TypeError("a model statement returns objects(), not rows()")
            return [tuple(row) for row in queryset]
        if built.models:
            raise TypeError("a model statement returns objects(), not rows()")
        return [tuple(row) for row in self._execute(built, values)]

    # --- building and running -----------------------------------------------------------------

    def _fresh(self, values: Sequence[Any]) -> QuerySet[Any]:
        """The queryset made with the values themselves (a statement not built once)."""
        return self._build(*[_Given(value) for value in values])

    def _ready(self, values: Sequence[Any]) -> _Built | None:
        if len(values) != self._arity:
            raise TypeError(f"the statement takes {self._arity} values, not {len(values)}")
        connection = connections[DB]
        key = (connection.alias, connection.vendor)
        if key not in self._built:
            with self._lock:
                if key not in self._built:
                    self._built[key] = self._make()
        return self._built[key]

    def sql_with_params(self, *values: Any) -> tuple[str, list[Any]]:
        """The SQL and parameters the statement runs for ``values`` (as a queryset's
        ``query.sql_with_params()``): where it is not built once (SQLite, a list of ids), those
        of the queryset it makes with the values. Raises ``EmptyResultSet`` for a query of
        nothing, as the queryset's does."""
        built = self._ready(values)
        if built is None:
            sql, params = self._fresh(values).query.sql_with_params()
            return sql, list(params)
        return built.sql, self._params(built, values)

    @staticmethod
    def _params(built: _Built, values: Sequence[Any]) -> list[Any]:
        params = list(built.params)
        for position, index, kind in built.slots:
            value = values[index]
            if kind == _TIME:  # as Django writes an aware time for this database
                if not isinstance(value, dt.datetime) or value.tzinfo is None:
                    raise ValueError("a statement compares aware times only")
                value = connections[DB].ops.adapt_datetimefield_value(value)
            elif kind == _IDS:
                value = list(value)
            params[position] = value
        return params

    def _execute(self, built: _Built, values: Sequence[Any]) -> list[Any]:
        connection = connections[DB]
        locking = built.locks and connection.features.has_select_for_update
        if locking and connection.get_autocommit():
            # As Django refuses it: a lock outside a transaction would end with the statement.
            raise TransactionManagementError("a locking statement needs a transaction")
        with connection.cursor() as cursor:
            cursor.execute(built.sql, self._params(built, values))
            fetched = cursor.fetchall()
        if not built.converters:
            return fetched
        return list(built.compiler.apply_converters(fetched, built.converters))

    def _make(self) -> _Built | None:
        markers = [Marker(i) for i in range(self._arity)]
        queryset = self._build(*markers)
        if any(marker.listed for marker in markers) and connections[DB].vendor != "postgresql":
            return None  # id_in spelled the list as placeholders: made afresh each time
        if queryset.db != DB:
            raise ValueError("a statement runs on the default database")
        if queryset._iterable_class is ModelIterable:
            models = True
        elif queryset._iterable_class is ValuesListIterable:
            models = False
        else:
            raise ValueError("a statement returns instances or values_list rows")
        internals = cast(Any, queryset)
        if internals._prefetch_related_lookups or internals._known_related_objects:
            raise ValueError("a statement cannot prefetch or carry known related objects")
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        if compiler.has_extra_select:
            raise ValueError("a statement cannot select more columns than it returns")
        columns = [selected[0] for selected in compiler.select[0 : compiler.col_count]]
        if compiler.has_composite_fields(columns):
            raise ValueError("a statement cannot select a composite primary key")
        if self._share and compiler.connection.vendor == "postgresql":
            # Only the queryset's own table (its alias in FROM), not the joined ones.
            sql = (
                f"{sql} FOR SHARE OF {compiler.quote_name_unless_alias(queryset.query.base_table)}"
            )
        slots = []
        stand_ins: dict[Any, tuple[int, str]] = {}
        for marker in markers:
            stand_ins[marker.as_int()] = (marker.index, _VALUE)
            stand_ins[marker.as_str()] = (marker.index, _VALUE)
            moment = marker.as_datetime()
            stand_ins[moment] = (marker.index, _TIME)
            adapted = compiler.connection.ops.adapt_datetimefield_value(moment)
            stand_ins[adapted] = (marker.index, _TIME)
        ids = {marker._LISTED + marker.index: marker.index for marker in markers}
        for position, param in enumerate(params):
            if isinstance(param, list) and len(param) == 1 and param[0] in ids:
                slots.append((position, ids[param[0]], _IDS))
            elif (
                isinstance(param, (int, str, dt.datetime))
                and not isinstance(param, bool)
                and param in stand_ins
            ):
                slots.append((position, *stand_ins[param]))
        found = sorted({index for _position, index, _kind in slots})
        if not self._unused and found != list(range(self._arity)):
            raise ValueError(f"each value must appear among the parameters: {found}")
        if models:
            klass_info = compiler.klass_info
            select_fields = klass_info["select_fields"]
            start, end = select_fields[0], select_fields[-1] + 1
            init_list = tuple(f[0].target.attname for f in compiler.select[start:end])
            populate = cast(Any, get_related_populators)
            populators = tuple(populate(klass_info, compiler.select, queryset.db))
            annotations = tuple((compiler.annotation_col_map or {}).items())
        else:
            start = end = 0
            init_list, populators, annotations = (), (), ()
        return _Built(
            sql=sql,
            params=tuple(params),
            slots=tuple(slots),
            compiler=compiler,
            models=models,
            init_list=init_list,
            start=start,
            end=end,
            populators=populators,
            annotations=annotations,
            locks=bool(queryset.query.select_for_update or self._share),
            converters=compiler.get_converters(columns),
        )


class Insert(Generic[M]):
    """What ``Model.objects.bulk_create(rows)`` writes — every concrete field but an automatic
    primary key, each value as the field's ``pre_save`` and ``get_db_prep_save`` make it, the
    new primary keys read back — with its ``INSERT`` built once per process and number of
    rows: the hot writes of a signing step (its audit events, messages, revision and
    submission), where Django built the statement anew each time (0.4–1.2 ms of Python a
    write, measured). As ``bulk_create``, no signals are sent and ``save()`` is not called.

    Only plain models qualify (checked when the statement is first built): no field computed
    by the database (``db_default``, generated, returned on insert) and no field whose
    placeholder depends on its value."""

    def __init__(self, model: type[M]) -> None:
        self._model = model
        self._sql: dict[tuple[str, str, int], str] = {}
        self._lock = threading.Lock()
        opts = model._meta
        pk = opts.pk
        assert pk is not None
        self._auto_pk = bool(getattr(pk, "db_returning", False))
        self._fields = tuple(
            f for f in opts.concrete_fields if not (self._auto_pk and f.primary_key)
        )

    def save(self, rows: Sequence[M]) -> None:
        """INSERT ``rows`` (new instances of the model) in one statement; each then has its
        primary key and is saved, as ``bulk_create`` leaves it."""
        connection = connections[DB]
        size = max(1, connection.ops.bulk_batch_size(self._fields, rows))
        for start in range(0, len(rows), size):
            self._save(connection, rows[start : start + size])

    def _save(self, connection: Any, rows: Sequence[M]) -> None:
        sql = self._statement(connection, len(rows))
        params: list[Any] = []
        fields = self._fields
        for row in rows:
            if row._state.adding is False or (self._auto_pk and row.pk is not None):
                raise ValueError("Insert.save takes new rows only")
            # As bulk_create: a related object saved after it was assigned (its key read now),
            # an unsaved one refused.
            cast(Any, row)._prepare_related_fields_for_save(operation_name="bulk_create")
            params += [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            keys = cursor.fetchall() if self._auto_pk else []
        pk = self._model._meta.pk
        assert pk is not None
        for index, row in enumerate(rows):
            if keys:
                (value,) = keys[index]
                setattr(row, pk.attname, value)
            row._state.adding = False
            row._state.db = DB

    def _statement(self, connection: Any, count: int) -> str:
        key = (connection.alias, connection.vendor, count)
        sql = self._sql.get(key)
        if sql is None:
            with self._lock:
                sql = self._sql.get(key) or self._build(connection, count)
                self._sql[key] = sql
        return sql

    def _build(self, connection: Any, count: int) -> str:
        from django.db.models import NOT_PROVIDED

        for f in self._fields:
            if (
                f.db_default is not NOT_PROVIDED
                or getattr(f, "generated", False)
                or getattr(f, "db_returning", False)
                or hasattr(f, "get_placeholder")
            ):
                raise ValueError(f"{self._model.__name__}.{f.name} is not a plain column")
        quote = connection.ops.quote_name
        opts = self._model._meta
        columns = ", ".join(quote(f.column) for f in self._fields)
        one = "(" + ", ".join(["%s"] * len(self._fields)) + ")"
        # Only the model's own table and column names are formatted in; values are parameters.
        sql = f"INSERT INTO {quote(opts.db_table)} ({columns}) VALUES " + ", ".join(  # noqa: S608
            [one] * count
        )
        if self._auto_pk:
            assert opts.pk is not None
            if not connection.features.can_return_rows_from_bulk_insert:
                raise ValueError("the database cannot return the new rows' keys")
            sql += f" RETURNING {quote(opts.pk.column)}"
        return sql


class Update(Generic[M]):
    """``Model.objects.filter(w1=…, w2=…).update(s1=…, s2=…)`` — equality on each of
    ``where``'s fields, ``set``'s fields written as ``update()`` writes them — with its
    ``UPDATE`` built once per process: a signing step's compare-and-swaps and the saves of its
    recipient rows, where Django built each statement anew. Returns the rows changed.

    ``where`` values must not be None (equality with NULL matches nothing: refused). A related
    object given for a foreign key is written as its key, as ``update()`` does."""

    def __init__(self, model: type[M], *, set: Sequence[str], where: Sequence[str]) -> None:
        opts = model._meta
        self._model = model

        def field(name: str) -> Any:
            return opts.pk if name == "pk" else opts.get_field(name)

        self._set = tuple(field(name) for name in set)
        self._where = tuple(field(name) for name in where)
        for f in (*self._set, *self._where):
            if not getattr(f, "concrete", False) or f.many_to_many or hasattr(f, "get_placeholder"):
                raise ValueError(f"{model.__name__}.{f.name} is not a plain column")
        if not self._set or not self._where:
            raise ValueError("an update sets and matches at least one column each")
        self._sql: dict[tuple[str, str], str] = {}

    def run(self, values: Sequence[Any], where: Sequence[Any]) -> int:
        """Set ``values`` (in ``set``'s order) on the rows matching ``where``; how many."""
        if len(values) != len(self._set) or len(where) != len(self._where):
            raise TypeError("one value a column")
        if any(value is None for value in where):
            raise ValueError("an update cannot match a column with NULL")
        connection = connections[DB]
        key = (connection.alias, connection.vendor)
        sql = self._sql.get(key) or self._sql.setdefault(key, self._build(connection))
        params = [_prep(f, v, connection) for f, v in zip(self._set, values, strict=True)]
        params += [_prep(f, v, connection) for f, v in zip(self._where, where, strict=True)]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.rowcount)

    def save(self, obj: M) -> None:
        """``obj.save(update_fields=set)`` for a model saved by its key alone (``where`` is
        the primary key): each field's ``pre_save`` value written, and an error when no row
        was changed, as Django's own. No signals are sent."""
        if len(self._where) != 1 or not self._where[0].primary_key:
            raise TypeError("save() matches the primary key alone")
        values = [f.pre_save(obj, False) for f in self._set]
        if self.run(values, [obj.pk]) != 1:
            raise DatabaseError("Save with update_fields did not affect any rows.")

    def _build(self, connection: Any) -> str:
        quote = connection.ops.quote_name
        sets = ", ".join(f"{quote(f.column)} = %s" for f in self._set)
        tests = " AND ".join(f"{quote(f.column)} = %s" for f in self._where)
        # Only the model's own table and column names are formatted in; values are parameters.
        return f"UPDATE {quote(self._model._meta.db_table)} SET {sets} WHERE {tests}"  # noqa: S608


def _prep(field: Any, value: Any, connection: Any) -> Any:
    if isinstance(value, Model):
        if field.remote_field is None:
            raise TypeError(f"{field.name} is not a relation: a model instance cannot go in it")
        # As update() writes it: the value of the field the relation points at (its to_field),
        # and an unsaved object refused (its key would be written as NULL).
        value = value.prepare_database_save(field)
    return field.get_db_prep_save(value, connection)

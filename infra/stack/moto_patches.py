"""Monkeypatches of moto's DynamoDB, applied by moto_server.py to the single-threaded process.

journaled_transactions (ON by default there; MOTO_STOCK_TRANSACTIONS=1 turns it off)
    moto's TransactWriteItems starts with `copy.deepcopy(table)` for every item of the
    transaction, so one booking (4-5 items) copies the whole table 4-5 times: its cost grows
    with the table (66 tx/s empty, 6 tx/s at 3,000 items) and so does the garbage (DESIGN §7).
    The patch keeps moto's own transact_write_items, line for line, and replaces only its
    snapshot: while a transaction runs, that deepcopy hands the table itself back (so moto's
    "restore" assigns the table to itself), and every write the transaction makes records the
    item it is about to replace, the first time it touches that key:
      - Table.put_item / Table.delete_item replace or pop the stored Item object, so the
        journal keeps a reference to the old object (or "absent");
      - DynamoDBBackend.update_item edits the stored Item in place, so the journal keeps a
        deepcopy of that one item (or "absent" when the update creates it);
      - the table's stream shard, if it has one, is cut back to its length before the call.
    If moto's transact_write_items raises anything (TransactionCanceledException with its
    CancellationReasons, the ValidationExceptions for >100 items or two operations on one
    item, or any error in the middle), the journal puts every touched key back as it was:
    the old Item where there was one, nothing where there was none. moto has no separate GSI
    storage (a GSI Query/Scan filters the table's items), so restoring the items restores the
    GSIs. A success keeps everything and drops the journal.
    Differences from stock moto, none visible through the API: the table objects keep their
    identity (stock swaps in the copy), and an error raised before moto's own try block
    (an item with two operations) is rolled back too, where stock leaves the earlier writes.
    moto has no ClientRequestToken (idempotency) handling; the patch neither adds nor removes it.

untracked_models (ON in every process; MOTO_TRACK_MODELS=1 turns it off)
    moto's BaseModel.__new__ appends every instance of every model class to a class-level
    list (`instances_tracked`) that only a reset empties: it feeds the /moto-api/ dashboard's
    data.json, which nothing here reads. Every DynamoDB Query deep-copies its matching Items
    before projecting them, every put replaces an Item, every SQS message is a model: each of
    those objects then lives as long as the process. Measured (infra/checks/test_infra.py pins
    it): 2,400 events of 3 KB, 200 polls of a sync job's stats (four COUNT queries over a GSI)
    grew the DynamoDB process from 96 MB to 1,370 MB — the 1,247 MB seen after a load run.
    The patch keeps moto's constructor and drops the append. (moto's S3 reset also walks
    those lists to close the temporary files of keys no bucket holds any more; untracked, such
    a key is freed, and its file closed, as soon as nothing refers to it.)

index_partition_queries (MOTO_INDEXED_PARTITION_QUERY=1, infra/measure/scale_reconcile.sh only)
    A base-table Query on a hash+range table reads only its partition (same results).
"""
from __future__ import annotations

import copy
import inspect
import sys
from typing import Any

_journal: "_Journal | None" = None  # the running transaction's journal (one request at a time)
_ABSENT = object()


class _Journal:
    def __init__(self) -> None:
        # (id(table), hash, range) -> (table, hash, range, old Item or _ABSENT)
        self.items: dict[tuple, tuple] = {}
        self.streams: dict[int, tuple] = {}  # id(table) -> (shard, its list, its length)
        self.tables: dict[int, tuple] = {}  # id(table) -> (table, shallow copy of items): fallback

    def _stream(self, table: Any) -> None:
        shard = getattr(table, "stream_shard", None)
        if shard is not None and id(table) not in self.streams:
            self.streams[id(table)] = (shard, shard.items, len(shard.items))

    def whole_table(self, table: Any) -> None:
        """Fallback for a write whose key the journal cannot tell: remember the whole table."""
        self._stream(table)
        if id(table) not in self.tables:
            self.tables[id(table)] = (table, copy.deepcopy(table.items))

    def touch(self, table: Any, hash_value: Any, range_value: Any, copy_item: bool) -> None:
        """Remember the item at this key before its first write in the transaction."""
        self._stream(table)
        if id(table) in self.tables:
            return
        if table.range_key_attr is not None and not range_value:
            self.whole_table(table)  # a range table written without a range key: not expected
            return
        k = (id(table), hash_value, range_value)
        if k in self.items:
            return
        if table.range_key_attr is not None:
            part = table.items.get(hash_value)
            old = part.get(range_value, _ABSENT) if part is not None else _ABSENT
        else:
            old = table.items.get(hash_value, _ABSENT)
        if old is not _ABSENT and copy_item:
            old = copy.deepcopy(old)
        self.items[k] = (table, hash_value, range_value, old)

    def rollback(self) -> None:
        # a whole-table snapshot was taken after the keys journaled before it were written:
        # put it back first, then those keys
        for table, items in self.tables.values():
            table.items = items
        for table, hash_value, range_value, old in self.items.values():
            if table.range_key_attr is not None:
                if old is _ABSENT:
                    part = table.items.get(hash_value)
                    if part is not None:
                        part.pop(range_value, None)
                        if not part:
                            del table.items[hash_value]
                else:
                    table.items.setdefault(hash_value, {})[range_value] = old
            elif old is _ABSENT:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = old
        for shard, lst, n in self.streams.values():
            del lst[n:]
            shard.items = lst


def _dynamo_types(table: Any, attrs: dict, range_needed: bool) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(attrs[table.hash_key_attr])
    range_value = None
    if table.range_key_attr is not None and (range_needed or table.range_key_attr in attrs):
        range_value = DynamoType(attrs[table.range_key_attr])
    return hash_value, range_value


def journaled_transactions() -> bool:
    """Installs the journal; returns False (stock moto stays) if moto's code is not the expected one."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend.transact_write_items, "_journaled", False):
        return True
    try:
        source = inspect.getsource(DynamoDBBackend.transact_write_items)
        update_source = inspect.getsource(DynamoDBBackend.update_item)
    except (OSError, TypeError):
        source = update_source = ""
    expected = (
        models.__dict__.get("copy") is copy
        and "copy.deepcopy(\n                    self.tables[table_name]" in source
        and "self.tables[table_name] = original_table_state[table_name]" in source
        and "table.get_item(hash_value, range_value)" in update_source
    )
    if not expected:
        print("moto_patches: moto's transact_write_items is not the expected one; stock kept", file=sys.stderr)
        return False

    class _Copy:
        """moto.dynamodb.models' `copy`: a transaction's table snapshot is the table itself."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(x: Any, memo: Any = None) -> Any:
            if _journal is not None and isinstance(x, Table):
                return x
            return copy.deepcopy(x, memo)

    models.copy = _Copy()  # type: ignore[assignment]

    stock_transact = DynamoDBBackend.transact_write_items
    stock_put = Table.put_item
    stock_delete = Table.delete_item
    stock_update = DynamoDBBackend.update_item

    def transact_write_items(self: Any, transact_items: Any) -> None:
        global _journal
        if _journal is not None:  # not reentrant; never happens in moto
            return stock_transact(self, transact_items)
        journal = _journal = _Journal()
        try:
            stock_transact(self, transact_items)
        except BaseException:
            journal.rollback()
            raise
        finally:
            _journal = None

    transact_write_items._journaled = True  # type: ignore[attr-defined]

    def put_item(self: Any, item_attrs: Any, *args: Any, **kwargs: Any) -> Any:
        if _journal is not None:
            try:
                if self.hash_key_attr in item_attrs and (
                    self.range_key_attr is None or self.range_key_attr in item_attrs
                ):
                    hash_value, range_value = _dynamo_types(self, item_attrs, False)
                    _journal.touch(self, hash_value, range_value, copy_item=False)
                # else moto raises before it writes
            except Exception:
                _journal.whole_table(self)
        return stock_put(self, item_attrs, *args, **kwargs)

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        if _journal is not None:
            _journal.touch(self, hash_key, range_key, copy_item=False)
        return stock_delete(self, hash_key, range_key)

    def update_item(self: Any, table_name: str, key: Any, *args: Any, **kwargs: Any) -> Any:
        if _journal is not None:
            table = self.get_table(table_name)  # raises like stock if the table is unknown
            try:
                # the key the stock update_item edits in place, derived like it does
                if table.hash_key_attr in key:
                    hash_value, range_value = _dynamo_types(
                        table, key, table.range_key_attr is not None and table.range_key_attr in key
                    )
                    _journal.touch(table, hash_value, range_value, copy_item=True)
                else:
                    _journal.whole_table(table)
            except Exception:
                _journal.whole_table(table)
        return stock_update(self, table_name, key, *args, **kwargs)

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    return True


def index_partition_queries() -> None:
    """Base-table Query on a hash+range table reads only its partition (same results)."""
    from moto.dynamodb.models.table import Table

    stock_query = Table.query

    def query(self, hash_key, *args, **kwargs):  # type: ignore[no-untyped-def]
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or not self.range_key_attr or hash_key is None:
            return stock_query(self, hash_key, *args, **kwargs)
        partition = list(self.items.get(hash_key, {}).values())
        self.all_items = lambda: partition  # instance attribute shadows the method
        try:
            return stock_query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query


def untracked_models() -> None:
    """moto's models no longer register every instance for the dashboard (see the header)."""
    from moto.core.common_models import BaseModel

    def __new__(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        # BaseModel's own __new__ minus `cls.instances_tracked.append(instance)`.
        return super(BaseModel, cls).__new__(cls)

    BaseModel.__new__ = staticmethod(__new__)  # type: ignore[method-assign,assignment]

"""Transactional messages (upstream TransactionalMessageService, EndTransactionProcessor and
TransactionalMessageCheckService).

A half message is stored in RMQ_SYS_TRANS_HALF_TOPIC (queue 0) with its real topic and queue in
properties. END_TRANSACTION commits it (stored again in the real topic, COMMIT type, its
preparedTransactionOffset pointing at the half) or rolls it back; either way an op record goes
to RMQ_SYS_TRANS_OP_HALF_TOPIC (tag ``d``, body = the half's queue offset). The check task
walks the half queue: halves without an op older than transactionTimeOut are re-stored with a
check count and a CHECK_TRANSACTION_STATE is sent to a live producer of their group; after
transactionCheckMax checks they are discarded.

Time: ages are measured on the store's clock against the half's born and store timestamps, so a
clock stepped back only makes halves look younger for the length of the step. What a pass must
leave for the next (the copies it re-stores) is told by commit-log offset, not by timestamp.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from pocketmq.aio import cancel_and_wait
from pocketmq.protocol import message as m
from pocketmq.protocol.client_headers import EndTransactionRequestHeader
from pocketmq.protocol.message_id import create_offset_message_id
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_request, make_response
from pocketmq.remoting.header import decode_header
from pocketmq.remoting.transport import Connection, RemotingError
from pocketmq.broker.topic_config import TRANS_CHECK_MAX_TIME_TOPIC, TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC
from pocketmq.store.results import GetMessageStatus, PutMessageStatus

if TYPE_CHECKING:
    from pocketmq.broker.controller import BrokerController

log = logging.getLogger("pocketmq.broker")

OP_TAG = "d"
CHECK_GROUP = "CID_RMQ_SYS_TRANS"


def first_half_offset(half: m.MessageExt) -> int:
    """The queue offset of the half as the producer sent it; copies re-stored by checks carry it."""
    original = half.properties.get(m.PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET)
    return int(original) if original and original.isdigit() else half.queue_offset


class TransactionService:
    def __init__(self, broker: "BrokerController") -> None:
        self.broker = broker
        self.done_half_offsets: set[int] = set()
        self._op_scanned_to = 0
        self._task: asyncio.Task[None] | None = None

    # --------------------------------------------------------------------------- half messages
    def prepare_half(self, msg: m.MessageExtBrokerInner) -> None:
        """Turn a TRAN_MSG send into its half form in RMQ_SYS_TRANS_HALF_TOPIC (in place)."""
        self.broker.topic_config_manager.create_system_topic_if_absent(TRANS_HALF_TOPIC, 1)
        msg.put_property(m.PROPERTY_REAL_TOPIC, msg.topic)
        msg.put_property(m.PROPERTY_REAL_QUEUE_ID, str(msg.queue_id))
        msg.sys_flag = (msg.sys_flag & ~m.TRANSACTION_TYPE_MASK) | m.TRANSACTION_NOT_TYPE
        msg.topic = TRANS_HALF_TOPIC
        msg.queue_id = 0

    # -------------------------------------------------------------------------- end transaction
    async def end_transaction(self, request: RemotingCommand, channel: Connection) -> RemotingCommand | None:
        header = decode_header(EndTransactionRequestHeader, request.ext_fields)
        if self.broker.is_slave:
            return make_response(request, ResponseCode.SLAVE_NOT_AVAILABLE,
                                 "Slave cannot run end transaction request")
        kind = header.commitOrRollback
        if kind == m.TRANSACTION_NOT_TYPE:
            log.warning("check producer[%s] transaction state, but it's pending status. msgId=%s",
                        channel.remote_address, header.msgId)
            return None
        if kind not in (m.TRANSACTION_COMMIT_TYPE, m.TRANSACTION_ROLLBACK_TYPE):
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"bad commitOrRollback {kind}")
        raw = self.broker.store.look_message_by_offset(header.commitLogOffset)
        if raw is None:
            return make_response(request, ResponseCode.SYSTEM_ERROR, "Find prepared transaction message failed")
        half = m.decode_message(raw)
        problem = self._check_half(half, header)
        if problem:
            return make_response(request, ResponseCode.SYSTEM_ERROR, problem)
        if kind == m.TRANSACTION_COMMIT_TYPE:
            result = await self.broker.store.put_message(self._committed_message(half))
            if result.status not in (PutMessageStatus.PUT_OK, PutMessageStatus.FLUSH_DISK_TIMEOUT,
                                     PutMessageStatus.FLUSH_SLAVE_TIMEOUT, PutMessageStatus.SLAVE_NOT_AVAILABLE):
                return make_response(request, ResponseCode.SYSTEM_ERROR,
                                     f"commit transaction message failed: {result.status.name}")
        # The op names the first half: every copy the check task re-stored refers back to it.
        await self._write_op(first_half_offset(half))
        self.broker.stats_manager.on_end_transaction(half.properties.get(m.PROPERTY_REAL_TOPIC, half.topic),
                                                     kind == m.TRANSACTION_COMMIT_TYPE)
        return make_response(request)

    @staticmethod
    def _check_half(half: m.MessageExt, header: EndTransactionRequestHeader) -> str | None:
        if half.topic != TRANS_HALF_TOPIC:
            return "Find prepared transaction message failed"
        if half.properties.get(m.PROPERTY_PRODUCER_GROUP) != header.producerGroup:
            return "The producer group wrong"
        if half.queue_offset != header.tranStateTableOffset:
            return "The transaction state table offset wrong"
        if half.commit_log_offset != header.commitLogOffset:
            return "The commit log offset wrong"
        return None

    @staticmethod
    def _committed_message(half: m.MessageExt) -> m.MessageExtBrokerInner:
        properties = dict(half.properties)
        topic = properties.get(m.PROPERTY_REAL_TOPIC, half.topic)
        queue_id = int(properties.get(m.PROPERTY_REAL_QUEUE_ID, "0") or 0)
        properties.pop(m.PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET, None)
        properties[m.PROPERTY_WAIT_STORE_MSG_OK] = "false"
        return m.MessageExtBrokerInner(
            topic=topic, body=half.body, queue_id=queue_id, flag=half.flag, properties=properties,
            sys_flag=(half.sys_flag & ~m.HOST_FLAGS_MASK & ~m.TRANSACTION_TYPE_MASK) | m.TRANSACTION_COMMIT_TYPE,
            born_timestamp=half.born_timestamp, born_host=half.born_host, reconsume_times=half.reconsume_times,
            prepared_transaction_offset=half.commit_log_offset,
            tags_code=m.tags_string_to_tags_code(properties.get(m.PROPERTY_TAGS)))

    async def _write_op(self, half_queue_offset: int) -> None:
        self.broker.topic_config_manager.create_system_topic_if_absent(TRANS_OP_HALF_TOPIC, 1)
        op = m.MessageExtBrokerInner(
            topic=TRANS_OP_HALF_TOPIC, body=str(half_queue_offset).encode(), queue_id=0,
            properties={m.PROPERTY_TAGS: OP_TAG, m.PROPERTY_WAIT_STORE_MSG_OK: "false"},
            born_timestamp=self.broker.store.clock.now_ms(), born_host=(self.broker.config.brokerIP1, 0),
            tags_code=m.tags_string_to_tags_code(OP_TAG))
        result = await self.broker.store.put_message(op)
        if result.status is PutMessageStatus.PUT_OK:
            self.done_half_offsets.add(half_queue_offset)

    # ------------------------------------------------------------------------------ checking
    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._check_loop())

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])

    async def _check_loop(self) -> None:
        interval = max(0.2, self.broker.config.transactionCheckInterval / 1000)
        while True:
            await asyncio.sleep(interval)
            if self.broker.is_slave:
                continue
            try:
                await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("transaction check failed")

    def _scan_ops(self) -> None:
        store = self.broker.store
        offset = max(self._op_scanned_to, store.get_min_offset_in_queue(TRANS_OP_HALF_TOPIC, 0))
        while True:
            result = store.get_message(CHECK_GROUP, TRANS_OP_HALF_TOPIC, 0, offset, 32)
            if result is None or result.status is not GetMessageStatus.FOUND:
                break
            for view in result.buffers:
                op = m.decode_message(view)
                if op.tags == OP_TAG and op.body.isdigit():
                    self.done_half_offsets.add(int(op.body))
            offset = result.next_begin_offset
        self._op_scanned_to = offset

    async def check_once(self) -> None:
        """One pass over the half queue from the check offset (upstream TransactionalMessageServiceImpl.check)."""
        broker = self.broker
        store = broker.store
        self._scan_ops()
        offsets = broker.consumer_offset_manager
        offset = max(0, offsets.query(CHECK_GROUP, TRANS_HALF_TOPIC, 0))
        offset = max(offset, store.get_min_offset_in_queue(TRANS_HALF_TOPIC, 0))
        timeout_ms = broker.config.transactionTimeOut
        now = store.clock.now_ms()
        pass_start = store.get_max_phy_offset()
        while True:
            result = store.get_message(CHECK_GROUP, TRANS_HALF_TOPIC, 0, offset, 32)
            if result is None or result.status is not GetMessageStatus.FOUND:
                break
            stop = False
            for view in result.buffers:
                half = m.decode_message(view)
                if half.commit_log_offset >= pass_start:
                    stop = True  # stored during this pass (a copy re-put just now): next pass
                    break
                if self._is_done(half):
                    offset = half.queue_offset + 1
                    continue
                immunity = half.properties.get(m.PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS)
                wait_ms = int(immunity) * 1000 if immunity and immunity.isdigit() else timeout_ms
                if now - half.born_timestamp < wait_ms and now - half.store_timestamp < wait_ms:
                    stop = True
                    break
                checks = int(half.properties.get(m.PROPERTY_TRANSACTION_CHECK_TIMES, "0") or 0)
                if checks >= broker.config.transactionCheckMax:
                    await self._discard(half)
                elif not await self._recheck(half, checks + 1):
                    stop = True  # keep this half where it is; the next pass tries again
                    break
                offset = half.queue_offset + 1
            if stop:
                break
        offsets.commit(CHECK_GROUP, TRANS_HALF_TOPIC, 0, offset)

    def _is_done(self, half: m.MessageExt) -> bool:
        """Committed or rolled back: an op names this half, or the original it was copied from."""
        if half.queue_offset in self.done_half_offsets:
            return True
        return first_half_offset(half) in self.done_half_offsets

    async def _discard(self, half: m.MessageExt) -> None:
        log.info("transaction half message %s checked %s times, discarded", half.msg_id,
                 half.properties.get(m.PROPERTY_TRANSACTION_CHECK_TIMES))
        self.broker.topic_config_manager.create_system_topic_if_absent(TRANS_CHECK_MAX_TIME_TOPIC, 1)
        properties = dict(half.properties)
        properties[m.PROPERTY_WAIT_STORE_MSG_OK] = "false"
        await self.broker.store.put_message(m.MessageExtBrokerInner(
            topic=TRANS_CHECK_MAX_TIME_TOPIC, body=half.body, queue_id=0, flag=half.flag, properties=properties,
            born_timestamp=half.born_timestamp, born_host=half.born_host))

    async def _recheck(self, half: m.MessageExt, checks: int) -> bool:
        """Re-store the half with its new check count (the check offset then moves past the old
        one) and ask a producer of its group; False when the copy could not be stored."""
        properties = dict(half.properties)
        properties[m.PROPERTY_TRANSACTION_CHECK_TIMES] = str(checks)
        properties.setdefault(m.PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET, str(half.queue_offset))
        properties[m.PROPERTY_WAIT_STORE_MSG_OK] = "false"
        again = m.MessageExtBrokerInner(
            topic=TRANS_HALF_TOPIC, body=half.body, queue_id=0, flag=half.flag, properties=properties,
            sys_flag=half.sys_flag & ~m.HOST_FLAGS_MASK, born_timestamp=half.born_timestamp, born_host=half.born_host,
            reconsume_times=half.reconsume_times)
        result = await self.broker.store.put_message(again)
        if result.status is not PutMessageStatus.PUT_OK or result.append_result is None:
            log.warning("re-store of half message %s failed: %s", half.msg_id, result.status.name)
            return False
        new_offset = result.append_result.wrote_offset
        new_queue_offset = result.append_result.logics_offset
        group = properties.get(m.PROPERTY_PRODUCER_GROUP, "")
        channel = self.broker.producer_manager.any_channel(group)
        if channel is None:
            log.warning("check transaction failed, channel is null. groupId=%s", group)
            return True
        raw = self.broker.store.look_message_by_offset(new_offset)
        if raw is None:
            return True
        body = self._check_body(m.decode_message(raw))
        store_host = self.broker.store.store_host
        fields = {"tranStateTableOffset": str(new_queue_offset), "commitLogOffset": str(new_offset),
                  "msgId": properties.get(m.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, ""),
                  "transactionId": properties.get(m.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, ""),
                  "offsetMsgId": create_offset_message_id(store_host[0], store_host[1], new_offset)}
        try:
            channel.invoke_oneway(make_request(RequestCode.CHECK_TRANSACTION_STATE, fields, body, language="JAVA"))
        except RemotingError as exc:
            log.warning("check transaction state of %s failed: %s", half.msg_id, exc)
        return True

    @staticmethod
    def _check_body(half: m.MessageExt) -> bytes:
        """The half in the stored layout with its real topic and queue restored (reference 3.7)."""
        properties = dict(half.properties)
        return m.encode_message(
            topic=properties.get(m.PROPERTY_REAL_TOPIC, half.topic), body=half.body,
            queue_id=int(properties.get(m.PROPERTY_REAL_QUEUE_ID, "0") or 0), flag=half.flag,
            queue_offset=half.queue_offset, physical_offset=half.commit_log_offset,
            sys_flag=(half.sys_flag & ~m.TRANSACTION_TYPE_MASK) | m.TRANSACTION_PREPARED_TYPE,
            born_timestamp=half.born_timestamp, born_host=half.born_host, store_timestamp=half.store_timestamp,
            store_host=half.store_host, reconsume_times=half.reconsume_times, properties=properties)

/*
 * Interop driver for message semantics (retry/DLQ, scheduled, orderly, transactions, SQL92):
 * the official Apache RocketMQ 4.9 Java client, printing JSON lines like Driver (whose helpers
 * it shares). Every consumed message event carries "recvTs" (ms, local clock) and "consumer".
 *
 *   consume         --topic T --group G [--expr E] [--sql] [--orderly] [--count N] [--timeout S]
 *                   [--run-seconds S] [--stop-file PATH] [--name NAME] [--from first|last]
 *                   [--reconsume-later] [--delay-level L] [--max-reconsume N]
 *        Concurrent (default) or orderly push consumer. Stops after N distinct messages
 *        (by msgId) were acknowledged, after --run-seconds, once --stop-file exists, or at --timeout. With
 *        --reconsume-later the listener always answers RECONSUME_LATER, asking for delay level L
 *        (default 0: the broker's 3 + reconsumeTimes); then N counts deliveries.
 *   ordered-produce --topic T [--count N] [--queues Q] [--interval-ms I] [--group G]
 *        Message i goes to queue (i % Q) of the topic's sorted queue list, body "i", property
 *        seq=i/Q (position within its queue).
 *   tx-produce      --topic T --group G [--count N] [--states commit,rollback,unknown]
 *                   [--check-answer commit|rollback|unknown] [--checks N] [--timeout S]
 *        TransactionMQProducer: message i's local transaction answers states[i % len]; the
 *        back-check answers --check-answer and prints {"event":"check",...}. Waits for N checks.
 */
package pocketmq.interop;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.MessageSelector;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.LocalTransactionState;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.TransactionListener;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.client.producer.TransactionSendResult;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

public final class SemanticsDriver {
    private SemanticsDriver() {
    }

    public static void main(String[] argv) {
        if (argv.length == 0) {
            System.err.println("usage: SemanticsDriver consume|ordered-produce|tx-produce ...");
            System.exit(64);
        }
        int rc;
        try {
            Driver.Args a = new Driver.Args(argv, 1);
            switch (argv[0]) {
                case "consume":
                    rc = consume(a);
                    break;
                case "ordered-produce":
                    rc = orderedProduce(a);
                    break;
                case "tx-produce":
                    rc = txProduce(a);
                    break;
                default:
                    System.err.println("unknown subcommand " + argv[0]);
                    rc = 64;
            }
        } catch (Throwable t) {
            t.printStackTrace();
            Driver.emit(Driver.ev("error", "error", Driver.errorText(t)));
            rc = 1;
        }
        System.exit(rc);
    }

    static Map<String, Object> received(MessageExt m, String name, String status) {
        Map<String, Object> e = Driver.msgEvent(m);
        e.put("recvTs", System.currentTimeMillis());
        e.put("consumer", name);
        e.put("status", status);
        return e;
    }

    // ---- consume ------------------------------------------------------------------------

    static int consume(Driver.Args a) throws Exception {
        String topic = a.need("topic");
        int count = a.getInt("count", 10);
        int timeout = a.getInt("timeout", 60);
        int runSeconds = a.getInt("run-seconds", 0);
        String name = a.get("name", "c");
        boolean reconsumeLater = a.flag("reconsume-later");
        int delayLevel = a.getInt("delay-level", 0);
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(a.need("group"));
        consumer.setNamesrvAddr(Driver.namesrv(a));
        consumer.setInstanceName(name + "_" + ProcessHandle.current().pid());
        consumer.setConsumeFromWhere("last".equals(a.get("from", "first"))
            ? ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET : ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.setMaxReconsumeTimes(a.getInt("max-reconsume", 16));
        consumer.setVipChannelEnabled(false);
        consumer.setConsumeMessageBatchMaxSize(1);
        consumer.setPullInterval(0);
        String expr = a.get("expr", "*");
        if (a.flag("sql")) {
            consumer.subscribe(topic, MessageSelector.bySql(expr));
        } else {
            consumer.subscribe(topic, expr);
        }
        CountDownLatch latch = new CountDownLatch(count);
        Set<String> seen = ConcurrentHashMap.newKeySet();
        AtomicInteger deliveries = new AtomicInteger();
        if (a.flag("orderly")) {
            consumer.registerMessageListener((MessageListenerOrderly) (msgs, ctx) -> {
                for (MessageExt m : msgs) {
                    Driver.emit(received(m, name, "SUCCESS"));
                    if (seen.add(m.getMsgId())) {
                        latch.countDown();
                    }
                }
                return ConsumeOrderlyStatus.SUCCESS;
            });
        } else {
            consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                if (reconsumeLater) {
                    for (MessageExt m : msgs) {
                        Driver.emit(received(m, name, "RECONSUME_LATER"));
                        deliveries.incrementAndGet();
                        latch.countDown();
                    }
                    ctx.setDelayLevelWhenNextConsume(delayLevel);
                    return ConsumeConcurrentlyStatus.RECONSUME_LATER;
                }
                for (MessageExt m : msgs) {
                    Driver.emit(received(m, name, "SUCCESS"));
                    if (seen.add(m.getMsgId())) {
                        latch.countDown();
                    }
                }
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
        }
        consumer.start();
        Driver.emit(Driver.ev("started", "group", consumer.getConsumerGroup(), "consumer", name));
        boolean ok;
        String stopFile = a.get("stop-file", null);
        if (stopFile != null) {
            long deadline = System.currentTimeMillis() + timeout * 1000L;
            while (!new java.io.File(stopFile).exists() && System.currentTimeMillis() < deadline) {
                Thread.sleep(50);
            }
            ok = new java.io.File(stopFile).exists();
        } else if (runSeconds > 0) {
            latch.await(runSeconds, TimeUnit.SECONDS);
            ok = true;
        } else {
            ok = latch.await(timeout, TimeUnit.SECONDS);
        }
        Thread.sleep(a.getInt("linger-ms", 300));
        consumer.shutdown();
        Driver.emit(Driver.ev(ok ? "done" : "timeout", "received", seen.size(), "deliveries", deliveries.get(),
            "expected", count, "consumer", name));
        return 0;
    }

    // ---- ordered produce ----------------------------------------------------------------

    static int orderedProduce(Driver.Args a) throws Exception {
        String topic = a.need("topic");
        int count = a.getInt("count", 100);
        int queues = a.getInt("queues", 4);
        int interval = a.getInt("interval-ms", 0);
        DefaultMQProducer producer = new DefaultMQProducer(Driver.group(a, "PID_ordered"));
        producer.setNamesrvAddr(Driver.namesrv(a));
        producer.setVipChannelEnabled(false);
        producer.start();
        int failed = 0;
        try {
            List<MessageQueue> mqs = new ArrayList<>(producer.fetchPublishMessageQueues(topic));
            mqs.sort(Comparator.comparing(MessageQueue::getBrokerName).thenComparingInt(MessageQueue::getQueueId));
            for (int i = 0; i < count; i++) {
                Message msg = new Message(topic, Integer.toString(i).getBytes("UTF-8"));
                msg.putUserProperty("seq", Integer.toString(i / queues));
                msg.putUserProperty("i", Integer.toString(i));
                try {
                    SendResult r = producer.send(msg, mqs.get(i % Math.min(queues, mqs.size())));
                    Driver.emit(Driver.sendEvent(i, r));
                } catch (Exception e) {
                    failed++;
                    Driver.emit(Driver.ev("send-error", "i", i, "error", Driver.errorText(e)));
                }
                if (interval > 0) {
                    Thread.sleep(interval);
                }
            }
        } finally {
            producer.shutdown();
        }
        Driver.emit(Driver.ev("done", "sent", count - failed, "failed", failed));
        return failed == 0 ? 0 : 2;
    }

    // ---- transactions -------------------------------------------------------------------

    static LocalTransactionState state(String text) {
        switch (text.trim().toLowerCase()) {
            case "commit":
                return LocalTransactionState.COMMIT_MESSAGE;
            case "rollback":
                return LocalTransactionState.ROLLBACK_MESSAGE;
            default:
                return LocalTransactionState.UNKNOW;
        }
    }

    static int txProduce(Driver.Args a) throws Exception {
        String topic = a.need("topic");
        int count = a.getInt("count", 3);
        String[] states = a.get("states", "commit,rollback,unknown").split(",");
        LocalTransactionState checkAnswer = state(a.get("check-answer", "commit"));
        int checksWanted = a.getInt("checks", 0);
        CountDownLatch checks = new CountDownLatch(checksWanted);
        TransactionMQProducer producer = new TransactionMQProducer(a.need("group"));
        producer.setNamesrvAddr(Driver.namesrv(a));
        producer.setVipChannelEnabled(false);
        producer.setTransactionListener(new TransactionListener() {
            @Override
            public LocalTransactionState executeLocalTransaction(Message msg, Object arg) {
                return state(states[(Integer) arg % states.length]);
            }

            @Override
            public LocalTransactionState checkLocalTransaction(MessageExt msg) {
                Map<String, Object> e = Driver.msgEvent(msg);
                e.put("event", "check");
                e.put("answer", checkAnswer.name());
                e.put("transactionId", msg.getTransactionId());
                Driver.emit(e);
                checks.countDown();
                return checkAnswer;
            }
        });
        producer.start();
        int failed = 0;
        try {
            for (int i = 0; i < count; i++) {
                Message msg = new Message(topic, ("tx-" + i).getBytes("UTF-8"));
                msg.setKeys("tx-key-" + i);
                msg.putUserProperty("i", Integer.toString(i));
                try {
                    TransactionSendResult r = producer.sendMessageInTransaction(msg, i);
                    Map<String, Object> e = Driver.sendEvent(i, r);
                    e.put("localState", r.getLocalTransactionState().name());
                    e.put("transactionId", r.getTransactionId());
                    Driver.emit(e);
                } catch (Exception e) {
                    failed++;
                    Driver.emit(Driver.ev("send-error", "i", i, "error", Driver.errorText(e)));
                }
            }
            boolean ok = checks.await(a.getInt("timeout", 60), TimeUnit.SECONDS);
            // let the one-way END_TRANSACTION of the last check go out
            Thread.sleep(a.getInt("linger-ms", 500));
            Driver.emit(Driver.ev(ok && failed == 0 ? "done" : "timeout", "sent", count - failed,
                "checks", checksWanted - checks.getCount()));
        } finally {
            producer.shutdown();
        }
        return failed == 0 ? 0 : 2;
    }
}

/*
 * Interop driver: runs the official Apache RocketMQ 4.9 Java client against a name server
 * (PocketMQ's or Apache's) and prints what happens as JSON lines on stdout, one object a line,
 * each with an "event" field. Python tests (tests/interop/clients.py) parse them.
 *
 *   produce            --topic T [--mode sync|async|oneway|batch] [--count N] [--queue-id Q]
 *                      [--tags TAG] [--keys PREFIX] [--body TEMPLATE] [--body-size N]
 *                      [--prop k=v ...] [--delay-level L] [--batch-size N] [--group G]
 *                      [--linger-ms MS]  (stay connected after sending; prints {"event":"lingering"})
 *                      [--threads N]  (sync mode: N threads share the N message indexes, each
 *                      send waits for its answer; the nemesis suite's 8-thread producer)
 *   push-consume       --topic T [--group G] [--expr '*'] [--sql] [--model clustering|broadcasting]
 *                      [--count N] [--timeout SECONDS] [--from first|last] [--orderly]
 *                      [--reconsume-once] [--max-reconsume N]
 *                      [--commit-sync]  (before shutdown, commit each of the topic's queues' offsets with a
 *                      request the broker answers, instead of shutdown's oneway; prints
 *                      {"event":"committed","offsets":{queueId: offset}})
 *   lite-pull-consume  --topic T [--group G] [--expr '*'] [--count N] [--timeout SECONDS]
 *                      [--assign] [--from first|last]
 *   admin cluster-info | topic-route --topic T | topic-list | broker-config --broker-addr A
 *         | create-topic --topic T (--broker-addr A | --cluster C) [--queues N] [--perm 6]
 *         | consume-stats --group G
 *         | stats-data --broker-addr A --stats-name N --stats-key K | producer-info --broker-addr A
 *         | query-cq --broker-addr A --topic T [--queue-id Q] [--index I] [--count N] [--group G]
 *         | time-span --topic T --group G | acl-info --broker-addr A | acl-config --broker-addr A
 *         | clean-expired-cq | clean-unused-topic | delete-expired-commitlog  (--broker-addr A)
 *         | consume-status --topic T --group G [--client-addr CLIENT_ID] | resume-half --topic T --msg-id ID
 *   (a broker's refusal prints {"event":"broker-error","code":..,"message":..}; a request left
 *    unanswered prints {"event":"timeout-error"})
 *
 * Common: --namesrv ADDR (default 127.0.0.1:9876), --vip true|false (sendMessageWithVIPChannel,
 * the client default is true), --send-timeout MS, --access-key AK --secret-key SK (sign every
 * request with AclClientRPCHook(new SessionCredentials(AK, SK)), as ACL users do), --tls true
 * (setUseTLS: TLS to name servers and brokers, server certificates not checked, as upstream),
 * --poll-namesrv-ms MS (pollNameServerInterval, the route refresh; client default 30000).
 *
 * "{i}" in --body, --keys and --prop values is replaced by the message index. Events:
 *   {"event":"send", "i":.., "status":.., "msgId":.., "offsetMsgId":.., "topic":..,
 *    "brokerName":.., "queueId":.., "queueOffset":.., "t": epoch ms}   (oneway: status "ONEWAY")
 *   {"event":"send-error", "i":.., "error":.., "t": epoch ms}
 *   {"event":"started"}   consumer is running (tests may produce after this)
 *   {"event":"msg", "topic":.., "tags":.., "keys":.., "body":.., "bodySize":.., "properties":{..},
 *    "queueId":.., "queueOffset":.., "msgId":.., "offsetMsgId":.., "reconsumeTimes":.., ...}
 *   {"event":"done", ...} or {"event":"timeout", ...} as the last line; {"event":"error"} on failure.
 */
package pocketmq.interop;

import com.alibaba.fastjson.JSON;
import com.alibaba.fastjson.serializer.SerializerFeature;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.client.consumer.store.OffsetStore;
import org.apache.rocketmq.client.consumer.store.ReadOffsetType;
import org.apache.rocketmq.remoting.RPCHook;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.MessageSelector;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.admin.OffsetWrapper;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.common.protocol.body.ClusterInfo;
import org.apache.rocketmq.common.protocol.heartbeat.MessageModel;
import org.apache.rocketmq.common.protocol.route.BrokerData;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.common.AclConfig;
import org.apache.rocketmq.common.admin.ConsumeStats;
import org.apache.rocketmq.common.protocol.body.BrokerStatsData;
import org.apache.rocketmq.common.protocol.body.ClusterAclVersionInfo;
import org.apache.rocketmq.common.protocol.body.ProducerTableInfo;
import org.apache.rocketmq.common.protocol.body.QueryConsumeQueueResponseBody;
import org.apache.rocketmq.common.protocol.body.QueueTimeSpan;
import org.apache.rocketmq.remoting.exception.RemotingTimeoutException;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

public final class Driver {
    private static final Object OUT_LOCK = new Object();

    private Driver() {
    }

    // ---- output -------------------------------------------------------------------------

    static void emit(Map<String, Object> event) {
        String line = JSON.toJSONString(event, SerializerFeature.WriteNonStringKeyAsString,
            SerializerFeature.DisableCircularReferenceDetect, SerializerFeature.WriteMapNullValue);
        synchronized (OUT_LOCK) {
            System.out.println(line);
            System.out.flush();
        }
    }

    static Map<String, Object> ev(String name, Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("event", name);
        for (int i = 0; i + 1 < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    static String errorText(Throwable t) {
        String s = t.getClass().getSimpleName() + ": " + t.getMessage();
        return s.length() > 2000 ? s.substring(0, 2000) : s;
    }

    // ---- arguments ----------------------------------------------------------------------

    static final class Args {
        final Map<String, List<String>> opts = new HashMap<>();
        final List<String> positional = new ArrayList<>();

        Args(String[] argv, int from) {
            for (int i = from; i < argv.length; i++) {
                String a = argv[i];
                if (a.startsWith("--")) {
                    String key = a.substring(2);
                    String val = "true";
                    int eq = key.indexOf('=');
                    if (eq >= 0) {
                        val = key.substring(eq + 1);
                        key = key.substring(0, eq);
                    } else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
                        val = argv[++i];
                    }
                    opts.computeIfAbsent(key, k -> new ArrayList<>()).add(val);
                } else {
                    positional.add(a);
                }
            }
        }

        String get(String key, String dflt) {
            List<String> v = opts.get(key);
            return v == null ? dflt : v.get(v.size() - 1);
        }

        String need(String key) {
            String v = get(key, null);
            if (v == null) {
                throw new IllegalArgumentException("missing --" + key);
            }
            return v;
        }

        int getInt(String key, int dflt) {
            return Integer.parseInt(get(key, Integer.toString(dflt)));
        }

        boolean flag(String key) {
            return Boolean.parseBoolean(get(key, "false"));
        }

        List<String> all(String key) {
            return opts.getOrDefault(key, List.of());
        }
    }

    // ---- main ---------------------------------------------------------------------------

    public static void main(String[] argv) {
        if (argv.length == 0) {
            System.err.println("usage: Driver produce|push-consume|lite-pull-consume|admin ...");
            System.exit(64);
        }
        int rc;
        try {
            switch (argv[0]) {
                case "produce":
                    rc = produce(new Args(argv, 1));
                    break;
                case "push-consume":
                    rc = pushConsume(new Args(argv, 1));
                    break;
                case "lite-pull-consume":
                    rc = litePullConsume(new Args(argv, 1));
                    break;
                case "admin":
                    rc = admin(new Args(argv, 1));
                    break;
                default:
                    System.err.println("unknown subcommand " + argv[0]);
                    rc = 64;
            }
        } catch (Throwable t) {
            t.printStackTrace();
            emit(ev("error", "error", errorText(t)));
            rc = 1;
        }
        // Client threads are not all daemons; leave no JVM behind.
        System.exit(rc);
    }

    static String namesrv(Args a) {
        return a.get("namesrv", "127.0.0.1:9876");
    }

    static String group(Args a, String prefix) {
        return a.get("group", prefix + "_" + ProcessHandle.current().pid());
    }

    // ---- produce ------------------------------------------------------------------------

    static Message buildMessage(Args a, String topic, int i) {
        String body = a.get("body", "body-{i}").replace("{i}", Integer.toString(i));
        int bodySize = a.getInt("body-size", -1);
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        if (bodySize >= 0) {
            byte[] padded = new byte[bodySize];
            java.util.Arrays.fill(padded, (byte) 'x');
            System.arraycopy(bytes, 0, padded, 0, Math.min(bytes.length, bodySize));
            bytes = padded;
        }
        Message msg = new Message(topic, bytes);
        String tags = a.get("tags", null);
        if (tags != null) {
            msg.setTags(tags.replace("{i}", Integer.toString(i)));
        }
        String keys = a.get("keys", "key-{i}");
        if (!keys.isEmpty()) {
            msg.setKeys(keys.contains("{i}") ? keys.replace("{i}", Integer.toString(i)) : keys + i);
        }
        for (String kv : a.all("prop")) {
            int eq = kv.indexOf('=');
            msg.putUserProperty(kv.substring(0, eq), kv.substring(eq + 1).replace("{i}", Integer.toString(i)));
        }
        int delay = a.getInt("delay-level", 0);
        if (delay > 0) {
            msg.setDelayTimeLevel(delay);
        }
        return msg;
    }

    static Map<String, Object> sendEvent(int i, SendResult r) {
        MessageQueue mq = r.getMessageQueue();
        return ev("send", "i", i, "status", r.getSendStatus().name(), "msgId", r.getMsgId(),
            "offsetMsgId", r.getOffsetMsgId(), "topic", mq.getTopic(), "brokerName", mq.getBrokerName(),
            "queueId", mq.getQueueId(), "queueOffset", r.getQueueOffset(), "t", System.currentTimeMillis());
    }

    /** The ACL signing hook for --access-key/--secret-key, or null (unsigned requests). */
    static RPCHook rpcHook(Args a) {
        String accessKey = a.get("access-key", null);
        if (accessKey == null) {
            return null;
        }
        return new AclClientRPCHook(new SessionCredentials(accessKey, a.need("secret-key")));
    }

    static int produce(Args a) throws Exception {
        String topic = a.need("topic");
        String mode = a.get("mode", "sync");
        int count = a.getInt("count", 10);
        int queueId = a.getInt("queue-id", -1);
        DefaultMQProducer producer = new DefaultMQProducer(group(a, "PID_interop"), rpcHook(a));
        producer.setNamesrvAddr(namesrv(a));
        producer.setSendMsgTimeout(a.getInt("send-timeout", 5000));
        producer.setRetryTimesWhenSendFailed(a.getInt("retry", 2));
        producer.setRetryTimesWhenSendAsyncFailed(a.getInt("retry", 2));
        producer.setVipChannelEnabled(Boolean.parseBoolean(a.get("vip", "true")));
        producer.setUseTLS(Boolean.parseBoolean(a.get("tls", "false")));
        producer.setPollNameServerInterval(a.getInt("poll-namesrv-ms", producer.getPollNameServerInterval()));
        producer.start();
        int failed = 0;
        try {
            MessageQueue target = null;
            if (queueId >= 0) {
                for (MessageQueue mq : producer.fetchPublishMessageQueues(topic)) {
                    if (mq.getQueueId() == queueId
                        && (a.get("broker-name", null) == null || a.get("broker-name", null).equals(mq.getBrokerName()))) {
                        target = mq;
                        break;
                    }
                }
                if (target == null) {
                    throw new IllegalStateException("no queue " + queueId + " for topic " + topic);
                }
            }
            switch (mode) {
                case "sync":
                    if (a.getInt("threads", 1) > 1) {
                        failed = produceThreaded(producer, a, topic, count, target);
                        break;
                    }
                    for (int i = 0; i < count; i++) {
                        try {
                            Message m = buildMessage(a, topic, i);
                            SendResult r = target == null ? producer.send(m) : producer.send(m, target);
                            emit(sendEvent(i, r));
                        } catch (Exception e) {
                            failed++;
                            emit(ev("send-error", "i", i, "error", errorText(e)));
                        }
                    }
                    break;
                case "async": {
                    CountDownLatch latch = new CountDownLatch(count);
                    AtomicInteger asyncFailed = new AtomicInteger();
                    for (int i = 0; i < count; i++) {
                        final int idx = i;
                        SendCallback cb = new SendCallback() {
                            @Override
                            public void onSuccess(SendResult r) {
                                emit(sendEvent(idx, r));
                                latch.countDown();
                            }

                            @Override
                            public void onException(Throwable e) {
                                asyncFailed.incrementAndGet();
                                emit(ev("send-error", "i", idx, "error", errorText(e)));
                                latch.countDown();
                            }
                        };
                        Message m = buildMessage(a, topic, i);
                        try {
                            if (target == null) {
                                producer.send(m, cb);
                            } else {
                                producer.send(m, target, cb);
                            }
                        } catch (Exception e) {
                            cb.onException(e);
                        }
                    }
                    if (!latch.await(a.getInt("timeout", 60), TimeUnit.SECONDS)) {
                        emit(ev("timeout", "pending", latch.getCount()));
                        failed += (int) latch.getCount();
                    }
                    failed += asyncFailed.get();
                    break;
                }
                case "oneway":
                    for (int i = 0; i < count; i++) {
                        try {
                            Message m = buildMessage(a, topic, i);
                            if (target == null) {
                                producer.sendOneway(m);
                            } else {
                                producer.sendOneway(m, target);
                            }
                            emit(ev("send", "i", i, "status", "ONEWAY"));
                        } catch (Exception e) {
                            failed++;
                            emit(ev("send-error", "i", i, "error", errorText(e)));
                        }
                    }
                    break;
                case "batch": {
                    int batchSize = a.getInt("batch-size", 16);
                    for (int start = 0; start < count; start += batchSize) {
                        int end = Math.min(count, start + batchSize);
                        List<Message> batch = new ArrayList<>();
                        for (int i = start; i < end; i++) {
                            batch.add(buildMessage(a, topic, i));
                        }
                        try {
                            SendResult r = target == null ? producer.send(batch) : producer.send(batch, target);
                            String[] ids = r.getMsgId() == null ? new String[0] : r.getMsgId().split(",");
                            String[] offIds = r.getOffsetMsgId() == null ? new String[0] : r.getOffsetMsgId().split(",");
                            for (int i = start; i < end; i++) {
                                int k = i - start;
                                Map<String, Object> e = sendEvent(i, r);
                                e.put("msgId", k < ids.length ? ids[k] : null);
                                e.put("offsetMsgId", k < offIds.length ? offIds[k] : null);
                                e.put("queueOffset", r.getQueueOffset() + k);
                                e.put("batchStart", start);
                                emit(e);
                            }
                        } catch (Exception e) {
                            failed += end - start;
                            for (int i = start; i < end; i++) {
                                emit(ev("send-error", "i", i, "error", errorText(e)));
                            }
                        }
                    }
                    break;
                }
                default:
                    throw new IllegalArgumentException("unknown --mode " + mode);
            }
            long lingerMs = Long.parseLong(a.get("linger-ms", "0"));
            if (lingerMs > 0) {  // stay connected (heartbeats go on) so admin calls can see this producer
                emit(ev("lingering", "sent", count - failed));
                Thread.sleep(lingerMs);
            }
        } finally {
            producer.shutdown();
        }
        emit(ev("done", "sent", count - failed, "failed", failed));
        return failed == 0 ? 0 : 2;
    }

    /** Sync sends from --threads threads sharing indexes 0..count-1; returns the failures. */
    static int produceThreaded(DefaultMQProducer producer, Args a, String topic, int count, MessageQueue target)
        throws InterruptedException {
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < a.getInt("threads", 1); t++) {
            Thread thread = new Thread(() -> {
                for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                    try {
                        Message m = buildMessage(a, topic, i);
                        SendResult r = target == null ? producer.send(m) : producer.send(m, target);
                        emit(sendEvent(i, r));
                    } catch (Exception e) {
                        failed.incrementAndGet();
                        emit(ev("send-error", "i", i, "error", errorText(e), "t", System.currentTimeMillis()));
                    }
                }
            }, "producer-" + t);
            thread.start();
            threads.add(thread);
        }
        for (Thread thread : threads) {
            thread.join();
        }
        return failed.get();
    }

    // ---- consume ------------------------------------------------------------------------

    static Map<String, Object> msgEvent(MessageExt m) {
        byte[] body = m.getBody() == null ? new byte[0] : m.getBody();
        Map<String, String> props = new TreeMap<>(m.getProperties());
        return ev("msg", "topic", m.getTopic(), "tags", m.getTags(), "keys", m.getKeys(),
            "body", new String(body, StandardCharsets.UTF_8), "bodySize", body.length,
            "properties", props, "queueId", m.getQueueId(), "queueOffset", m.getQueueOffset(),
            "msgId", m.getMsgId(), "offsetMsgId", offsetMsgIdOf(m),
            "commitLogOffset", m.getCommitLogOffset(), "reconsumeTimes", m.getReconsumeTimes(),
            "bornTimestamp", m.getBornTimestamp(), "storeTimestamp", m.getStoreTimestamp(),
            "bornHost", String.valueOf(m.getBornHost()), "storeHost", String.valueOf(m.getStoreHost()),
            "sysFlag", m.getSysFlag(), "bodyCRC", m.getBodyCRC(), "t", System.currentTimeMillis());
    }

    static String offsetMsgIdOf(MessageExt m) {
        // MessageClientExt keeps the store-side id here; plain MessageExt's msgId already is it.
        try {
            java.lang.reflect.Method getter = m.getClass().getMethod("getOffsetMsgId");
            return (String) getter.invoke(m);
        } catch (ReflectiveOperationException e) {
            return m.getMsgId();
        }
    }

    static ConsumeFromWhere fromWhere(Args a) {
        return "last".equals(a.get("from", "first"))
            ? ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET : ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET;
    }

    static int pushConsume(Args a) throws Exception {
        String topic = a.need("topic");
        int count = a.getInt("count", 10);
        int timeout = a.getInt("timeout", 60);
        boolean reconsumeOnce = a.flag("reconsume-once");
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group(a, "CID_interop"), rpcHook(a),
            new AllocateMessageQueueAveragely());
        consumer.setNamesrvAddr(namesrv(a));
        consumer.setConsumeFromWhere(fromWhere(a));
        consumer.setMessageModel("broadcasting".equalsIgnoreCase(a.get("model", "clustering"))
            ? MessageModel.BROADCASTING : MessageModel.CLUSTERING);
        consumer.setMaxReconsumeTimes(a.getInt("max-reconsume", 16));
        consumer.setVipChannelEnabled(Boolean.parseBoolean(a.get("vip", "true")));
        consumer.setUseTLS(Boolean.parseBoolean(a.get("tls", "false")));
        consumer.setPollNameServerInterval(a.getInt("poll-namesrv-ms", consumer.getPollNameServerInterval()));
        consumer.setConsumeThreadMin(2);
        consumer.setConsumeThreadMax(4);
        consumer.setHeartbeatBrokerInterval(a.getInt("heartbeat-ms", 30000));
        String expr = a.get("expr", "*");
        if (a.flag("sql")) {
            consumer.subscribe(topic, MessageSelector.bySql(expr));
        } else {
            consumer.subscribe(topic, expr);
        }
        CountDownLatch latch = new CountDownLatch(count);
        AtomicInteger received = new AtomicInteger();
        Map<String, Boolean> seenOnce = new ConcurrentHashMap<>();
        Map<Integer, Long> consumedUpTo = new ConcurrentHashMap<>();  // queueId -> last consumed offset + 1
        if (a.flag("orderly")) {
            consumer.registerMessageListener((MessageListenerOrderly) (msgs, ctx) -> {
                for (MessageExt m : msgs) {
                    Map<String, Object> e = msgEvent(m);
                    if (reconsumeOnce && seenOnce.putIfAbsent(m.getMsgId(), true) == null) {
                        e.put("status", "SUSPEND_CURRENT_QUEUE_A_MOMENT");
                        emit(e);
                        return ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT;
                    }
                    e.put("status", "SUCCESS");
                    emit(e);
                    consumedUpTo.merge(m.getQueueId(), m.getQueueOffset() + 1, Math::max);
                    received.incrementAndGet();
                    latch.countDown();
                }
                return ConsumeOrderlyStatus.SUCCESS;
            });
        } else {
            consumer.setConsumeMessageBatchMaxSize(1);
            consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                for (MessageExt m : msgs) {
                    Map<String, Object> e = msgEvent(m);
                    if (reconsumeOnce && m.getReconsumeTimes() == 0) {
                        e.put("status", "RECONSUME_LATER");
                        emit(e);
                        return ConsumeConcurrentlyStatus.RECONSUME_LATER;
                    }
                    e.put("status", "SUCCESS");
                    emit(e);
                    consumedUpTo.merge(m.getQueueId(), m.getQueueOffset() + 1, Math::max);
                    received.incrementAndGet();
                    latch.countDown();
                }
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
        }
        consumer.start();
        emit(ev("started", "group", consumer.getConsumerGroup()));
        boolean ok = latch.await(timeout, TimeUnit.SECONDS);
        // Let the last acks / offset commits go out before shutdown persists offsets.
        Thread.sleep(a.getInt("linger-ms", 200));
        if (a.flag("commit-sync")) {
            emit(ev("committed", "offsets", commitOffsetsAnswered(consumer, topic, consumedUpTo)));
        }
        consumer.shutdown();
        emit(ev(ok ? "done" : "timeout", "received", received.get(), "expected", count));
        return 0;
    }

    /**
     * Each assigned queue of the topic (not of the group's retry topic), its offset committed with
     * a request the broker answers. First waits (up to 30 s) until the client has recorded in
     * memory every message the listener consumed: it does so on its consume thread after the
     * listener returns.
     */
    static Map<String, Long> commitOffsetsAnswered(DefaultMQPushConsumer consumer, String topic,
            Map<Integer, Long> consumedUpTo) throws Exception {
        OffsetStore store = consumer.getDefaultMQPushConsumerImpl().getOffsetStore();
        Map<String, Long> committed = new TreeMap<>();
        long deadline = System.currentTimeMillis() + 30_000;
        for (MessageQueue mq : consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().keySet()) {
            if (!mq.getTopic().equals(topic)) {
                continue;
            }
            long want = consumedUpTo.getOrDefault(mq.getQueueId(), 0L);
            long offset = store.readOffset(mq, ReadOffsetType.READ_FROM_MEMORY);
            while (offset < want && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
                offset = store.readOffset(mq, ReadOffsetType.READ_FROM_MEMORY);
            }
            if (offset >= 0) {
                store.updateConsumeOffsetToBroker(mq, offset, false);
                committed.put(String.valueOf(mq.getQueueId()), offset);
            }
        }
        return committed;
    }

    static int litePullConsume(Args a) throws Exception {
        String topic = a.need("topic");
        int count = a.getInt("count", 10);
        long deadline = System.currentTimeMillis() + a.getInt("timeout", 60) * 1000L;
        DefaultLitePullConsumer consumer = new DefaultLitePullConsumer(group(a, "CID_interop_lite"), rpcHook(a));
        consumer.setNamesrvAddr(namesrv(a));
        consumer.setConsumeFromWhere(fromWhere(a));
        consumer.setVipChannelEnabled(Boolean.parseBoolean(a.get("vip", "true")));
        consumer.setAutoCommit(true);
        consumer.setPollTimeoutMillis(1000);
        boolean assign = a.flag("assign");
        if (!assign) {
            consumer.subscribe(topic, a.get("expr", "*"));
        }
        consumer.start();
        if (assign) {
            Collection<MessageQueue> mqs = consumer.fetchMessageQueues(topic);
            consumer.assign(mqs);
            if (!"last".equals(a.get("from", "first"))) {
                for (MessageQueue mq : mqs) {
                    consumer.seekToBegin(mq);
                }
            }
        }
        emit(ev("started", "group", consumer.getConsumerGroup()));
        int received = 0;
        while (received < count && System.currentTimeMillis() < deadline) {
            for (MessageExt m : consumer.poll(1000)) {
                Map<String, Object> e = msgEvent(m);
                e.put("status", "SUCCESS");
                emit(e);
                received++;
            }
        }
        if (!assign) {
            consumer.commitSync();
        }
        consumer.shutdown();
        emit(ev(received >= count ? "done" : "timeout", "received", received, "expected", count));
        return 0;
    }

    // ---- admin --------------------------------------------------------------------------

    static int admin(Args a) throws Exception {
        if (a.positional.isEmpty()) {
            throw new IllegalArgumentException("admin needs an action");
        }
        String action = a.positional.get(0);
        DefaultMQAdminExt admin = new DefaultMQAdminExt(rpcHook(a), a.getInt("timeout-ms", 5000));
        admin.setNamesrvAddr(namesrv(a));
        admin.setVipChannelEnabled(Boolean.parseBoolean(a.get("vip", "false")));
        admin.start();
        try {
            switch (action) {
                case "cluster-info": {
                    ClusterInfo info = admin.examineBrokerClusterInfo();
                    emit(ev("cluster-info", "brokerAddrTable", info.getBrokerAddrTable(),
                        "clusterAddrTable", info.getClusterAddrTable()));
                    break;
                }
                case "topic-route":
                    emit(ev("topic-route", "route", admin.examineTopicRouteInfo(a.need("topic"))));
                    break;
                case "topic-list":
                    emit(ev("topic-list", "topics", new ArrayList<>(admin.fetchAllTopicList().getTopicList())));
                    break;
                case "broker-config": {
                    Properties p = admin.getBrokerConfig(a.need("broker-addr"));
                    emit(ev("broker-config", "config", new TreeMap<>(p)));
                    break;
                }
                case "create-topic": {
                    TopicConfig tc = new TopicConfig(a.need("topic"));
                    int queues = a.getInt("queues", 4);
                    tc.setReadQueueNums(queues);
                    tc.setWriteQueueNums(queues);
                    tc.setPerm(a.getInt("perm", 6));
                    List<String> addrs = new ArrayList<>();
                    String brokerAddr = a.get("broker-addr", null);
                    if (brokerAddr != null) {
                        addrs.add(brokerAddr);
                    } else {
                        String cluster = a.get("cluster", "DefaultCluster");
                        ClusterInfo info = admin.examineBrokerClusterInfo();
                        for (String bn : info.getClusterAddrTable().getOrDefault(cluster, java.util.Set.of())) {
                            BrokerData bd = info.getBrokerAddrTable().get(bn);
                            String master = bd == null ? null : bd.getBrokerAddrs().get(0L);
                            if (master != null) {
                                addrs.add(master);
                            }
                        }
                    }
                    if (addrs.isEmpty()) {
                        throw new IllegalStateException("no master broker to create the topic on");
                    }
                    for (String addr : addrs) {
                        admin.createAndUpdateTopicConfig(addr, tc);
                    }
                    emit(ev("create-topic", "topic", tc.getTopicName(), "brokers", addrs, "queues", queues));
                    break;
                }
                case "consume-stats": {
                    ConsumeStats cs = admin.examineConsumeStats(a.need("group"));
                    List<Map<String, Object>> rows = new ArrayList<>();
                    for (Map.Entry<MessageQueue, OffsetWrapper> e : new TreeMap<>(cs.getOffsetTable()).entrySet()) {
                        MessageQueue mq = e.getKey();
                        OffsetWrapper w = e.getValue();
                        Map<String, Object> row = new LinkedHashMap<>();
                        row.put("topic", mq.getTopic());
                        row.put("brokerName", mq.getBrokerName());
                        row.put("queueId", mq.getQueueId());
                        row.put("brokerOffset", w.getBrokerOffset());
                        row.put("consumerOffset", w.getConsumerOffset());
                        rows.add(row);
                    }
                    emit(ev("consume-stats", "consumeTps", cs.getConsumeTps(), "diffTotal", cs.computeTotalDiff(),
                        "offsets", rows));
                    break;
                }
                default:
                    if (!inspect(admin, action, a)) {
                        throw new IllegalArgumentException("unknown admin action " + action);
                    }
            }
        } catch (MQBrokerException e) {
            emit(ev("broker-error", "code", e.getResponseCode(), "message", e.getErrorMessage()));
        } catch (MQClientException e) {  // some admin calls wrap the broker's refusal in this one
            if (e.getResponseCode() <= 0) {
                throw e;
            }
            emit(ev("broker-error", "code", e.getResponseCode(), "message", e.getErrorMessage()));
        } catch (RemotingTimeoutException e) {
            emit(ev("timeout-error", "message", e.getMessage()));
        } finally {
            admin.shutdown();
        }
        emit(ev("done"));
        return 0;
    }

    /** Admin calls that inspect a broker (issue 14); each emits one event named after the action. */
    static boolean inspect(DefaultMQAdminExt admin, String action, Args a) throws Exception {
        switch (action) {
            case "stats-data": {
                BrokerStatsData d = admin.viewBrokerStatsData(a.need("broker-addr"), a.need("stats-name"),
                    a.need("stats-key"));
                emit(ev("stats-data", "statsMinute", d.getStatsMinute(), "statsHour", d.getStatsHour(),
                    "statsDay", d.getStatsDay()));
                return true;
            }
            case "producer-info": {
                ProducerTableInfo t = admin.getAllProducerInfo(a.need("broker-addr"));
                emit(ev("producer-info", "data", t.getData()));
                return true;
            }
            case "query-cq": {
                QueryConsumeQueueResponseBody b = admin.queryConsumeQueue(a.need("broker-addr"), a.need("topic"),
                    a.getInt("queue-id", 0), Long.parseLong(a.get("index", "0")), a.getInt("count", 10),
                    a.get("group", null));
                emit(ev("query-cq", "maxQueueIndex", b.getMaxQueueIndex(), "minQueueIndex", b.getMinQueueIndex(),
                    "queueData", b.getQueueData(), "subscriptionData", b.getSubscriptionData(),
                    "filterData", b.getFilterData()));
                return true;
            }
            case "time-span": {
                List<QueueTimeSpan> spans = admin.queryConsumeTimeSpan(a.need("topic"), a.need("group"));
                emit(ev("time-span", "spans", spans));
                return true;
            }
            case "acl-info": {
                ClusterAclVersionInfo i = admin.examineBrokerClusterAclVersionInfo(a.need("broker-addr"));
                emit(ev("acl-info", "brokerName", i.getBrokerName(), "brokerAddr", i.getBrokerAddr(),
                    "clusterName", i.getClusterName(), "aclConfigDataVersion", i.getAclConfigDataVersion(),
                    "allAclConfigDataVersion", i.getAllAclConfigDataVersion()));
                return true;
            }
            case "acl-config": {
                AclConfig c = admin.examineBrokerClusterAclConfig(a.need("broker-addr"));
                emit(ev("acl-config", "globalWhiteAddrs", c.getGlobalWhiteAddrs(),
                    "plainAccessConfigs", c.getPlainAccessConfigs()));
                return true;
            }
            case "consume-status": {
                Map<String, Map<MessageQueue, Long>> table = admin.getConsumeStatus(a.need("topic"), a.need("group"),
                    a.get("client-addr", ""));
                Map<String, Map<String, Long>> out = new TreeMap<>();
                for (Map.Entry<String, Map<MessageQueue, Long>> e : table.entrySet()) {
                    Map<String, Long> offsets = new TreeMap<>();
                    for (Map.Entry<MessageQueue, Long> q : e.getValue().entrySet()) {
                        offsets.put(q.getKey().getTopic() + "@" + q.getKey().getBrokerName() + "@"
                            + q.getKey().getQueueId(), q.getValue());
                    }
                    out.put(e.getKey(), offsets);
                }
                emit(ev("consume-status", "consumerTable", out));
                return true;
            }
            case "resume-half":
                emit(ev("resume-half", "ok", admin.resumeCheckHalfMessage(a.need("topic"), a.need("msg-id"))));
                return true;
            case "clean-expired-cq":
                emit(ev("clean-expired-cq", "ok", admin.cleanExpiredConsumerQueueByAddr(a.need("broker-addr"))));
                return true;
            case "clean-unused-topic":
                emit(ev("clean-unused-topic", "ok", admin.cleanUnusedTopicByAddr(a.need("broker-addr"))));
                return true;
            case "delete-expired-commitlog":
                emit(ev("delete-expired-commitlog", "ok", admin.deleteExpiredCommitLogByAddr(a.need("broker-addr"))));
                return true;
            default:
                return false;
        }
    }
}

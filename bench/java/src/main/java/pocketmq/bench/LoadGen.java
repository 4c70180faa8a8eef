/*
 * Load generator for bench/run.py, on the official Apache RocketMQ 4.9 Java client, so that
 * PocketMQ and Apache RocketMQ face the identical client. Modelled on upstream's
 * org.apache.rocketmq.example.benchmark.Producer / Consumer (synchronous sends from N threads,
 * a push consumer counting TPS), which are not on Maven Central.
 *
 *   java -cp 'target/classes:target/lib/*' pocketmq.bench.LoadGen --namesrv 127.0.0.1:9876
 *        --topic T [--threads 16] [--size 128] [--seconds 15] [--warmup 5] [--queues 4]
 *        [--cluster DefaultCluster] [--no-create] [--no-consume] [--drain 30]
 *
 * Steps: create the topic on every master of the cluster (unless --no-create) and wait for its
 * route; start a push consumer (CONSUME_FROM_FIRST_OFFSET) and wait for its rebalance; run
 * `threads` producer threads sending `size`-byte messages synchronously for warmup + seconds;
 * only sends that start inside the measured window count toward the figures; then wait up to
 * `drain` seconds for the consumer to catch up. Prints one JSON object on stdout:
 *
 *   {"sent":..,"failed":..,"not_ok":..,"send_tps":..,"avg_ms":..,"p50_ms":..,"p99_ms":..,
 *    "max_ms":..,"consumed":..,"consume_tps":..,"e2e_p50_ms":..,"e2e_p99_ms":..,"lost":.., ...}
 *
 * "failed" counts exceptions (after the client's own retries), "not_ok" results other than
 * SEND_OK (FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE). Logs go to stderr.
 */
package pocketmq.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.protocol.body.ClusterInfo;
import org.apache.rocketmq.common.protocol.route.BrokerData;
import org.apache.rocketmq.common.protocol.route.TopicRouteData;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.remoting.RPCHook;

public final class LoadGen {
    private LoadGen() {
    }

    /** A growable array of longs; one per thread, so recording takes no lock. */
    static final class Samples {
        long[] data = new long[1 << 14];
        int size;

        void add(long v) {
            if (size == data.length) {
                data = Arrays.copyOf(data, size * 2);
            }
            data[size++] = v;
        }
    }

    static final class Config {
        String namesrv = "127.0.0.1:9876";
        String topic = "BenchTopic";
        String cluster = "DefaultCluster";
        int threads = 16;
        int size = 128;
        double seconds = 15;
        double warmup = 5;
        double drain = 30;
        int queues = 4;
        int sendTimeoutMs = 3000;
        boolean create = true;
        boolean consume = true;
        String accessKey = null; // --access-key/--secret-key: sign with AclClientRPCHook
        String secretKey = null;

        RPCHook hook() {
            return accessKey == null ? null : new AclClientRPCHook(new SessionCredentials(accessKey, secretKey));
        }
    }

    static Config parse(String[] args) {
        Config c = new Config();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--namesrv": c.namesrv = args[++i]; break;
                case "--topic": c.topic = args[++i]; break;
                case "--cluster": c.cluster = args[++i]; break;
                case "--threads": c.threads = Integer.parseInt(args[++i]); break;
                case "--size": c.size = Integer.parseInt(args[++i]); break;
                case "--seconds": c.seconds = Double.parseDouble(args[++i]); break;
                case "--warmup": c.warmup = Double.parseDouble(args[++i]); break;
                case "--drain": c.drain = Double.parseDouble(args[++i]); break;
                case "--queues": c.queues = Integer.parseInt(args[++i]); break;
                case "--send-timeout": c.sendTimeoutMs = Integer.parseInt(args[++i]); break;
                case "--no-create": c.create = false; break;
                case "--no-consume": c.consume = false; break;
                case "--access-key": c.accessKey = args[++i]; break;
                case "--secret-key": c.secretKey = args[++i]; break;
                default: throw new IllegalArgumentException("unknown argument " + a);
            }
        }
        return c;
    }

    static void log(String s) {
        System.err.println("loadgen: " + s);
        System.err.flush();
    }

    // ---- topic ------------------------------------------------------------------------------

    static void createTopic(Config c) throws Exception {
        DefaultMQAdminExt admin = new DefaultMQAdminExt(c.hook(), 5000);
        admin.setAdminExtGroup("bench_admin_" + System.nanoTime());
        admin.setNamesrvAddr(c.namesrv);
        admin.start();
        try {
            ClusterInfo info = admin.examineBrokerClusterInfo();
            List<String> masters = new ArrayList<>();
            for (BrokerData bd : info.getBrokerAddrTable().values()) {
                if (c.cluster.equals(bd.getCluster()) && bd.getBrokerAddrs().get(0L) != null) {
                    masters.add(bd.getBrokerAddrs().get(0L));
                }
            }
            if (masters.isEmpty()) {
                throw new IllegalStateException("no master in cluster " + c.cluster);
            }
            for (String addr : masters) {
                admin.createAndUpdateTopicConfig(addr, new TopicConfig(c.topic, c.queues, c.queues, 6));
            }
            long deadline = System.currentTimeMillis() + 60_000;
            while (true) {
                try {
                    TopicRouteData route = admin.examineTopicRouteInfo(c.topic);
                    if (route.getQueueDatas().size() >= masters.size()) {
                        return;
                    }
                } catch (Exception e) {
                    // no route yet
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("topic route did not appear for " + c.topic);
                }
                Thread.sleep(200);
            }
        } finally {
            admin.shutdown();
        }
    }

    // ---- main -------------------------------------------------------------------------------

    public static void main(String[] args) throws Exception {
        Config c = parse(args);
        if (c.create) {
            createTopic(c);
        }

        // consumer: counts messages and born-to-consume latency
        final AtomicLong consumed = new AtomicLong();
        final CopyOnWriteArrayList<Samples> e2eAll = new CopyOnWriteArrayList<>();
        final ThreadLocal<Samples> e2eLocal = ThreadLocal.withInitial(() -> {
            Samples s = new Samples();
            e2eAll.add(s);
            return s;
        });
        final long[] window = new long[2]; // measured window, System.currentTimeMillis()
        DefaultMQPushConsumer consumer = null;
        if (c.consume) {
            consumer = new DefaultMQPushConsumer("bench_cg_" + c.topic, c.hook(), new AllocateMessageQueueAveragely());
            consumer.setNamesrvAddr(c.namesrv);
            consumer.setInstanceName("bench_consumer_" + System.nanoTime());
            consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
            consumer.subscribe(c.topic, "*");
            consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                long now = System.currentTimeMillis();
                Samples s = e2eLocal.get();
                for (MessageExt m : msgs) {
                    long born = m.getBornTimestamp();
                    if (born >= window[0] && window[0] != 0 && (window[1] == 0 || born < window[1])) {
                        s.add(now - born);
                    }
                }
                consumed.addAndGet(msgs.size());
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
            consumer.start();
            long deadline = System.currentTimeMillis() + 60_000;
            while (consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().isEmpty()) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("consumer got no queues within 60 s");
                }
                Thread.sleep(100);
            }
        }

        DefaultMQProducer producer = new DefaultMQProducer("bench_pg_" + c.topic, c.hook());
        producer.setNamesrvAddr(c.namesrv);
        producer.setInstanceName("bench_producer_" + System.nanoTime());
        producer.setSendMsgTimeout(c.sendTimeoutMs);
        producer.setCompressMsgBodyOverHowmuch(Integer.MAX_VALUE);
        producer.start();
        // route lookup outside the timing
        producer.fetchPublishMessageQueues(c.topic);

        byte[] body = new byte[c.size];
        new Random(42).nextBytes(body);
        final long t0 = System.nanoTime();
        final long measureStart = t0 + (long) (c.warmup * 1e9);
        final long measureEnd = measureStart + (long) (c.seconds * 1e9);
        final AtomicLong sentAll = new AtomicLong();
        final AtomicLong sent = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final AtomicLong notOk = new AtomicLong();
        final AtomicLong failedAll = new AtomicLong();
        final List<String> errors = new CopyOnWriteArrayList<>();
        final Samples[] lat = new Samples[c.threads];
        final long[] consumedAt = new long[2];
        Thread[] threads = new Thread[c.threads];
        for (int t = 0; t < c.threads; t++) {
            final Samples mine = new Samples();
            lat[t] = mine;
            final DefaultMQProducer p = producer;
            threads[t] = new Thread(() -> {
                while (true) {
                    long start = System.nanoTime();
                    if (start >= measureEnd) {
                        return;
                    }
                    boolean measured = start >= measureStart;
                    Message msg = new Message(c.topic, body);
                    try {
                        SendResult r = p.send(msg);
                        long end = System.nanoTime();
                        sentAll.incrementAndGet();
                        if (measured) {
                            mine.add(end - start);
                            sent.incrementAndGet();
                            if (r.getSendStatus() != SendStatus.SEND_OK) {
                                notOk.incrementAndGet();
                            }
                        }
                    } catch (Exception e) {
                        failedAll.incrementAndGet();
                        if (measured) {
                            failed.incrementAndGet();
                        }
                        if (errors.size() < 5) {
                            errors.add(e.getClass().getSimpleName() + ": " + e.getMessage());
                        }
                    }
                }
            }, "bench-producer-" + t);
            threads[t].start();
        }
        // mark the window for the consumer side
        sleepUntil(measureStart);
        window[0] = System.currentTimeMillis();
        consumedAt[0] = consumed.get();
        sleepUntil(measureEnd);
        window[1] = System.currentTimeMillis();
        consumedAt[1] = consumed.get();
        for (Thread t : threads) {
            t.join();
        }
        long producerDone = System.nanoTime();
        producer.shutdown();

        // drain: the consumer should see every acknowledged message
        long drainMs = 0;
        long lost = 0;
        if (consumer != null) {
            long deadline = System.nanoTime() + (long) (c.drain * 1e9);
            while (consumed.get() < sentAll.get() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            drainMs = (System.nanoTime() - producerDone) / 1_000_000;
            lost = Math.max(0, sentAll.get() - consumed.get());
            consumer.shutdown();
        }

        // figures
        int n = 0;
        for (Samples s : lat) {
            n += s.size;
        }
        long[] all = new long[n];
        int k = 0;
        for (Samples s : lat) {
            System.arraycopy(s.data, 0, all, k, s.size);
            k += s.size;
        }
        Arrays.sort(all);
        double sum = 0;
        for (long v : all) {
            sum += v;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("loadgen", "java");
        out.put("topic", c.topic);
        out.put("threads", c.threads);
        out.put("size", c.size);
        out.put("seconds", c.seconds);
        out.put("sent", sent.get());
        out.put("failed", failed.get());
        out.put("not_ok", notOk.get());
        out.put("sent_total", sentAll.get());
        out.put("failed_total", failedAll.get());
        out.put("send_tps", sent.get() / c.seconds);
        out.put("avg_ms", n == 0 ? 0 : sum / n / 1e6);
        out.put("p50_ms", pct(all, 0.50) / 1e6);
        out.put("p99_ms", pct(all, 0.99) / 1e6);
        out.put("max_ms", n == 0 ? 0 : all[n - 1] / 1e6);
        if (consumer != null) {
            double windowS = (window[1] - window[0]) / 1000.0;
            out.put("consumed", consumed.get());
            out.put("consume_tps", (consumedAt[1] - consumedAt[0]) / windowS);
            out.put("drain_ms", drainMs);
            out.put("lost", lost);
            int m = 0;
            for (Samples s : e2eAll) {
                m += s.size;
            }
            long[] e2e = new long[m];
            int j = 0;
            for (Samples s : e2eAll) {
                int len = Math.min(s.size, m - j);
                System.arraycopy(s.data, 0, e2e, j, len);
                j += len;
            }
            Arrays.sort(e2e);
            out.put("e2e_p50_ms", (double) pct(e2e, 0.50));
            out.put("e2e_p99_ms", (double) pct(e2e, 0.99));
        }
        out.put("errors", errors);
        System.out.println(toJson(out));
        System.out.flush();
        System.exit(0);
    }

    static long pct(long[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    static void sleepUntil(long nanos) throws InterruptedException {
        while (true) {
            long left = nanos - System.nanoTime();
            if (left <= 0) {
                return;
            }
            Thread.sleep(Math.max(1, Math.min(100, left / 1_000_000)));
        }
    }

    static String toJson(Object o) {
        if (o instanceof Map) {
            StringBuilder sb = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
                if (!first) {
                    sb.append(',');
                }
                first = false;
                sb.append(toJson(String.valueOf(e.getKey()))).append(':').append(toJson(e.getValue()));
            }
            return sb.append('}').toString();
        }
        if (o instanceof List) {
            StringBuilder sb = new StringBuilder("[");
            boolean first = true;
            for (Object v : (List<?>) o) {
                if (!first) {
                    sb.append(',');
                }
                first = false;
                sb.append(toJson(v));
            }
            return sb.append(']').toString();
        }
        if (o instanceof String) {
            StringBuilder sb = new StringBuilder("\"");
            for (char ch : ((String) o).toCharArray()) {
                if (ch == '"' || ch == '\\') {
                    sb.append('\\').append(ch);
                } else if (ch < 0x20) {
                    sb.append(String.format("\\u%04x", (int) ch));
                } else {
                    sb.append(ch);
                }
            }
            return sb.append('"').toString();
        }
        if (o instanceof Double) {
            double d = (Double) o;
            return Double.isFinite(d) ? String.format("%.4f", d) : "null";
        }
        return String.valueOf(o);
    }
}

package pocketmq.interop5;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.rocketmq.client.apis.consumer.ConsumeResult;
import org.apache.rocketmq.client.apis.consumer.PushConsumer;
import org.apache.rocketmq.client.apis.ClientConfiguration;
import org.apache.rocketmq.client.apis.ClientConfigurationBuilder;
import org.apache.rocketmq.client.apis.ClientServiceProvider;
import org.apache.rocketmq.client.apis.StaticSessionCredentialsProvider;
import org.apache.rocketmq.client.apis.consumer.FilterExpression;
import org.apache.rocketmq.client.apis.consumer.FilterExpressionType;
import org.apache.rocketmq.client.apis.consumer.SimpleConsumer;
import org.apache.rocketmq.client.apis.message.MessageView;
import org.apache.rocketmq.client.apis.message.Message;
import org.apache.rocketmq.client.apis.message.MessageBuilder;
import org.apache.rocketmq.client.apis.producer.Producer;
import org.apache.rocketmq.client.apis.producer.SendReceipt;

/**
 * Driver for the official RocketMQ 5 Java client (rocketmq-client-java, gRPC), run by tests as a
 * subprocess. Prints JSON lines like ../java's Driver: {"event":"send",...} per message (with
 * "deliverMs", the delivery timestamp set, or 0), then {"event":"done"}; a failure prints
 * {"event":"error"} and exits 2. Each received message's line carries "receivedAt" (epoch ms) and
 * "deliveryTimestamp" (the message's, or 0).
 *
 *   produce --endpoints HOST:PORT --topic T [--count N] [--body TEXT] [--tag TAG] [--keys K]
 *           [--prop k=v]... [--group MESSAGE_GROUP] [--delay-ms MS]
 *   simple-consume --endpoints HOST:PORT --topic T --group G [--count N] [--invisible S] [--timeout S]
 *           (receives and acks until N messages were acked: {"event":"msg",...} per delivery)
 *   push-consume --endpoints HOST:PORT --topic T --group G [--count N] [--consumers C] [--timeout S]
 *           (C PushConsumers of the group in this JVM until N distinct messages were consumed; a
 *           FIFO group's consumers consume in order: {"event":"msg",...,"group","consumer","ts"})
 * All also take --tls true|false (the client's enableSsl; it does not check the server's
 * certificate), --access-key AK --secret-key SK (StaticSessionCredentialsProvider) and
 * --namespace NS.
 */
public final class Driver5 {
    static boolean tls = false;
    static String accessKey = null, secretKey = null, namespace = null;

    /** The options every command shares; false when ``key`` is not one of them. */
    static boolean common(String key, String value) {
        switch (key) {
            case "--tls": tls = Boolean.parseBoolean(value); return true;
            case "--access-key": accessKey = value; return true;
            case "--secret-key": secretKey = value; return true;
            case "--namespace": namespace = value; return true;
            default: return false;
        }
    }

    static ClientConfiguration configuration(String endpoints) {
        ClientConfigurationBuilder builder = ClientConfiguration.newBuilder().setEndpoints(endpoints).enableSsl(tls)
            .setRequestTimeout(Duration.ofSeconds(15));  // long enough for a loaded test machine
        if (accessKey != null) {
            builder.setCredentialProvider(new StaticSessionCredentialsProvider(accessKey, secretKey));
        }
        if (namespace != null) {
            builder.setNamespace(namespace);
        }
        return builder.build();
    }

    public static void main(String[] argv) {
        try {
            if (argv.length > 0 && argv[0].equals("produce")) {
                produce(argv);
            } else if (argv.length > 0 && argv[0].equals("simple-consume")) {
                simpleConsume(argv);
            } else if (argv.length > 0 && argv[0].equals("push-consume")) {
                pushConsume(argv);
            } else {
                System.err.println("usage: Driver5 produce|simple-consume --endpoints HOST:PORT --topic T ...");
                System.exit(64);
            }
            System.exit(0);
        } catch (Throwable t) {
            StringBuilder text = new StringBuilder();
            for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
                text.append(text.length() == 0 ? "" : " / caused by ").append(c.getClass().getName())
                    .append(": ").append(c.getMessage());  // a failed startup hides the server's answer in its cause
            }
            emit("{\"event\":\"error\",\"error\":" + quote(text.toString()) + "}");
            System.exit(2);
        }
    }

    static void produce(String[] argv) throws Exception {
        String endpoints = null, topic = null, body = "hello", tag = null, keys = null, group = null;
        int count = 1;
        long delayMs = 0;
        List<String> props = new ArrayList<>();
        for (int i = 1; i < argv.length; i += 2) {
            String key = argv[i], value = argv[i + 1];
            switch (key) {
                case "--endpoints": endpoints = value; break;
                case "--topic": topic = value; break;
                case "--body": body = value; break;
                case "--tag": tag = value; break;
                case "--keys": keys = value; break;
                case "--group": group = value; break;
                case "--count": count = Integer.parseInt(value); break;
                case "--delay-ms": delayMs = Long.parseLong(value); break;
                case "--prop": props.add(value); break;
                default: if (!common(key, value)) throw new IllegalArgumentException("unknown option " + key);
            }
        }
        ClientServiceProvider provider = ClientServiceProvider.loadService();
        ClientConfiguration config = configuration(endpoints);
        try (Producer producer = provider.newProducerBuilder().setClientConfiguration(config).setTopics(topic).build()) {
            for (int i = 0; i < count; i++) {
                String text = count > 1 ? body + "-" + i : body;
                MessageBuilder builder = provider.newMessageBuilder().setTopic(topic)
                    .setBody(text.getBytes(StandardCharsets.UTF_8));
                if (tag != null) builder.setTag(tag);
                if (keys != null) builder.setKeys(keys);
                if (group != null) builder.setMessageGroup(group);
                long deliverMs = delayMs > 0 ? System.currentTimeMillis() + delayMs : 0;
                if (delayMs > 0) builder.setDeliveryTimestamp(deliverMs);
                for (String p : props) {
                    int eq = p.indexOf('=');
                    builder.addProperty(p.substring(0, eq), p.substring(eq + 1));
                }
                Message message = builder.build();
                SendReceipt receipt = producer.send(message);
                emit("{\"event\":\"send\",\"msgId\":" + quote(receipt.getMessageId().toString())
                    + ",\"body\":" + quote(text) + ",\"deliverMs\":" + deliverMs + "}");
            }
        }
        emit("{\"event\":\"done\",\"count\":" + count + "}");
    }

    static void simpleConsume(String[] argv) throws Exception {
        String endpoints = null, topic = null, group = null;
        int count = 1, invisible = 15, timeout = 60;
        for (int i = 1; i < argv.length; i += 2) {
            String key = argv[i], value = argv[i + 1];
            switch (key) {
                case "--endpoints": endpoints = value; break;
                case "--topic": topic = value; break;
                case "--group": group = value; break;
                case "--count": count = Integer.parseInt(value); break;
                case "--invisible": invisible = Integer.parseInt(value); break;
                case "--timeout": timeout = Integer.parseInt(value); break;
                default: if (!common(key, value)) throw new IllegalArgumentException("unknown option " + key);
            }
        }
        ClientServiceProvider provider = ClientServiceProvider.loadService();
        ClientConfiguration config = configuration(endpoints);
        Set<String> acked = new HashSet<>();
        long deadline = System.currentTimeMillis() + timeout * 1000L;
        try (SimpleConsumer consumer = provider.newSimpleConsumerBuilder().setClientConfiguration(config)
            .setConsumerGroup(group).setAwaitDuration(Duration.ofSeconds(5))
            .setSubscriptionExpressions(Collections.singletonMap(topic, new FilterExpression("*", FilterExpressionType.TAG)))
            .build()) {
            while (acked.size() < count && System.currentTimeMillis() < deadline) {
                List<MessageView> views = consumer.receive(16, Duration.ofSeconds(invisible));
                for (MessageView view : views) {
                    long receivedAt = System.currentTimeMillis();
                    byte[] body = new byte[view.getBody().remaining()];
                    view.getBody().get(body);
                    emit("{\"event\":\"msg\",\"msgId\":" + quote(view.getMessageId().toString())
                        + ",\"body\":" + quote(new String(body, StandardCharsets.UTF_8))
                        + ",\"tag\":" + quote(view.getTag().orElse("")) + ",\"attempt\":" + view.getDeliveryAttempt()
                        + ",\"receivedAt\":" + receivedAt
                        + ",\"deliveryTimestamp\":" + view.getDeliveryTimestamp().orElse(0L) + "}");
                    consumer.ack(view);
                    acked.add(view.getMessageId().toString());
                }
            }
        }
        emit("{\"event\":\"" + (acked.size() >= count ? "done" : "timeout") + "\",\"count\":" + acked.size() + "}");
    }

    static void pushConsume(String[] argv) throws Exception {
        String endpoints = null, topic = null, group = null;
        int count = 1, consumers = 1, timeout = 60;
        for (int i = 1; i < argv.length; i += 2) {
            String key = argv[i], value = argv[i + 1];
            switch (key) {
                case "--endpoints": endpoints = value; break;
                case "--topic": topic = value; break;
                case "--group": group = value; break;
                case "--count": count = Integer.parseInt(value); break;
                case "--consumers": consumers = Integer.parseInt(value); break;
                case "--timeout": timeout = Integer.parseInt(value); break;
                default:
                    if (!common(key, value)) throw new IllegalArgumentException("unknown option " + key);
            }
        }
        ClientServiceProvider provider = ClientServiceProvider.loadService();
        ClientConfiguration config = configuration(endpoints);
        Set<String> consumed = ConcurrentHashMap.newKeySet();
        List<PushConsumer> started = new ArrayList<>();
        long deadline = System.currentTimeMillis() + timeout * 1000L;
        try {
            for (int c = 0; c < consumers; c++) {
                final int index = c;
                started.add(provider.newPushConsumerBuilder().setClientConfiguration(config).setConsumerGroup(group)
                    .setSubscriptionExpressions(Collections.singletonMap(topic, new FilterExpression("*", FilterExpressionType.TAG)))
                    .setMessageListener(view -> {
                        long ts = System.currentTimeMillis();
                        byte[] body = new byte[view.getBody().remaining()];
                        view.getBody().get(body);
                        emit("{\"event\":\"msg\",\"msgId\":" + quote(view.getMessageId().toString())
                            + ",\"body\":" + quote(new String(body, StandardCharsets.UTF_8))
                            + ",\"group\":" + quote(view.getMessageGroup().orElse(""))
                            + ",\"attempt\":" + view.getDeliveryAttempt() + ",\"consumer\":" + index
                            + ",\"ts\":" + ts + "}");
                        try {
                            Thread.sleep(20);  // so that the next message of a group is strictly later
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        consumed.add(view.getMessageId().toString());
                        return ConsumeResult.SUCCESS;
                    }).build());
            }
            while (consumed.size() < count && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            Thread.sleep(1000);  // let the last acks reach the proxy before the consumers close
        } finally {
            for (PushConsumer consumer : started) {
                consumer.close();
            }
        }
        emit("{\"event\":\"" + (consumed.size() >= count ? "done" : "timeout") + "\",\"count\":" + consumed.size() + "}");
    }

    static synchronized void emit(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : String.valueOf(s).toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}

package pocketmq.interop5r;

import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * Driver for the official RocketMQ 5 Java remoting client (rocketmq-client 5.3.3), run by tests as
 * a subprocess. Prints JSON lines as ../java's Driver: {"event":"send",...} per message, then
 * {"event":"done"}; a failure prints {"event":"error"} and exits 2.
 *
 *   produce --namesrv ADDR --topic T [--count N] [--body TEXT]
 *   pop-consume --namesrv ADDR --topic T --group G [--count N] [--timeout S] [--fail-first true]
 *           (a DefaultMQPushConsumer with clientRebalance=false: the broker assigns its queues and,
 *           for a group set to POP with mqadmin setConsumeMode, it pops; {"event":"msg",...,"popCk"}
 *           per delivery until N distinct messages were consumed; with --fail-first the first
 *           delivery of each message answers RECONSUME_LATER)
 */
public final class Driver5r {
    public static void main(String[] argv) {
        try {
            if (argv.length > 0 && argv[0].equals("produce")) {
                produce(argv);
            } else if (argv.length > 0 && argv[0].equals("pop-consume")) {
                popConsume(argv);
            } else {
                System.err.println("usage: Driver5r produce|pop-consume --namesrv ADDR --topic T ...");
                System.exit(64);
            }
            System.exit(0);
        } catch (Throwable t) {
            emit("{\"event\":\"error\",\"error\":" + quote(t.getClass().getName() + ": " + t.getMessage()) + "}");
            System.exit(2);
        }
    }

    static String option(String[] argv, String name, String fallback) {
        for (int i = 1; i + 1 < argv.length; i += 2) {
            if (argv[i].equals(name)) {
                return argv[i + 1];
            }
        }
        return fallback;
    }

    static void produce(String[] argv) throws Exception {
        String namesrv = option(argv, "--namesrv", null), topic = option(argv, "--topic", null);
        String body = option(argv, "--body", "hello");
        int count = Integer.parseInt(option(argv, "--count", "1"));
        DefaultMQProducer producer = new DefaultMQProducer("PID_INTEROP5R");
        producer.setNamesrvAddr(namesrv);
        producer.setSendMsgTimeout(15000);
        producer.start();
        try {
            for (int i = 0; i < count; i++) {
                String text = count > 1 ? body + "-" + i : body;
                SendResult result = producer.send(new Message(topic, "TagP", text.getBytes(StandardCharsets.UTF_8)));
                if (result.getSendStatus() != SendStatus.SEND_OK) {
                    throw new IllegalStateException("send status " + result.getSendStatus());
                }
                emit("{\"event\":\"send\",\"msgId\":" + quote(result.getMsgId()) + ",\"body\":" + quote(text) + "}");
            }
        } finally {
            producer.shutdown();
        }
        emit("{\"event\":\"done\",\"count\":" + count + "}");
    }

    static void popConsume(String[] argv) throws Exception {
        String namesrv = option(argv, "--namesrv", null), topic = option(argv, "--topic", null);
        String group = option(argv, "--group", null);
        int count = Integer.parseInt(option(argv, "--count", "1"));
        int timeout = Integer.parseInt(option(argv, "--timeout", "60"));
        boolean failFirst = Boolean.parseBoolean(option(argv, "--fail-first", "false"));
        Set<String> consumed = ConcurrentHashMap.newKeySet();
        Set<String> seen = ConcurrentHashMap.newKeySet();
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        consumer.setNamesrvAddr(namesrv);
        consumer.setClientRebalance(false);  // the broker assigns: POP for a group set to POP
        consumer.subscribe(topic, "*");
        consumer.setConsumeMessageBatchMaxSize(1);
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, context) -> {
            for (MessageExt msg : msgs) {
                boolean fail = failFirst && seen.add(msg.getMsgId());
                emit("{\"event\":\"msg\",\"msgId\":" + quote(msg.getMsgId())
                    + ",\"body\":" + quote(new String(msg.getBody(), StandardCharsets.UTF_8))
                    + ",\"queueId\":" + msg.getQueueId() + ",\"reconsumeTimes\":" + msg.getReconsumeTimes()
                    + ",\"status\":" + quote(fail ? "RECONSUME_LATER" : "SUCCESS")
                    + ",\"popCk\":" + quote(msg.getProperty(MessageConst.PROPERTY_POP_CK) == null ? ""
                        : msg.getProperty(MessageConst.PROPERTY_POP_CK)) + "}");
                if (fail) {
                    return ConsumeConcurrentlyStatus.RECONSUME_LATER;
                }
                consumed.add(msg.getMsgId());
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        long deadline = System.currentTimeMillis() + timeout * 1000L;
        try {
            while (consumed.size() < count && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            Thread.sleep(1000);  // let the last acks reach the broker
        } finally {
            consumer.shutdown();
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

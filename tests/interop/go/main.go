// Interop driver for the official Apache RocketMQ Go client (rocketmq-client-go/v2).
// Prints JSON lines on stdout, one object a line with an "event" field, in the same shape
// as the Java driver (tests/interop/java/.../Driver.java) so Python tests parse both alike.
//
//	gointerop produce      -namesrv ADDR -topic T [-mode sync|async|oneway|batch] [-count N]
//	                       [-queue-id Q] [-tags TAG] [-keys PREFIX] [-body TEMPLATE] [-prop k=v ...]
//	                       [-delay-level L] [-group G] [-vip]
//	gointerop push-consume -namesrv ADDR -topic T [-group G] [-expr '*'] [-sql]
//	                       [-model clustering|broadcasting] [-count N] [-timeout SECONDS]
//	                       [-from first|last] [-orderly] [-reconsume-once]
//
// Both take -access-key AK -secret-key SK to sign every request (primitive.Credentials);
// produce takes -tls (WithTls(true)).
// "{i}" in -body, -keys and -prop values is replaced by the message index.
// Client logs go to $POCKETMQ_GO_LOG (default: a file in the temp dir), never to stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

var outMu sync.Mutex

type event map[string]interface{}

func emit(e event) {
	b, err := json.Marshal(e)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"event":"error","error":%q}`, err.Error()))
	}
	outMu.Lock()
	os.Stdout.Write(append(b, '\n'))
	outMu.Unlock()
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func fail(err error) {
	emit(event{"event": "error", "error": err.Error()})
	os.Exit(1)
}

func setupLog() {
	path := os.Getenv("POCKETMQ_GO_LOG")
	if path == "" {
		path = filepath.Join(os.TempDir(), fmt.Sprintf("pocketmq-go-driver-%d.log", os.Getpid()))
	}
	level := os.Getenv("ROCKETMQ_GO_LOG_LEVEL")
	if level == "" {
		level = "warn"
	}
	rlog.SetLogLevel(level)
	_ = rlog.SetOutputPath(path)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gointerop produce|push-consume [flags]")
		os.Exit(64)
	}
	setupLog()
	switch os.Args[1] {
	case "produce":
		os.Exit(produce(os.Args[2:]))
	case "push-consume":
		os.Exit(pushConsume(os.Args[2:]))
	default:
		fmt.Fprintln(os.Stderr, "unknown subcommand", os.Args[1])
		os.Exit(64)
	}
}

// queueIDSelector sends every message to the first route queue with the given id.
type queueIDSelector struct{ id int }

func (s queueIDSelector) Select(_ *primitive.Message, queues []*primitive.MessageQueue, _ string) *primitive.MessageQueue {
	for _, q := range queues {
		if q.QueueId == s.id {
			return q
		}
	}
	return queues[0]
}

func sendEvent(i int, r *primitive.SendResult) event {
	e := event{"event": "send", "i": i, "status": sendStatus(r.Status), "msgId": r.MsgID,
		"offsetMsgId": r.OffsetMsgID, "queueOffset": r.QueueOffset}
	if r.MessageQueue != nil {
		e["topic"] = r.MessageQueue.Topic
		e["brokerName"] = r.MessageQueue.BrokerName
		e["queueId"] = r.MessageQueue.QueueId
	}
	return e
}

func sendStatus(s primitive.SendStatus) string {
	switch s {
	case primitive.SendOK:
		return "SEND_OK"
	case primitive.SendFlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case primitive.SendFlushSlaveTimeout:
		return "FLUSH_SLAVE_TIMEOUT"
	case primitive.SendSlaveNotAvailable:
		return "SLAVE_NOT_AVAILABLE"
	default:
		return "UNKNOWN_ERROR"
	}
}

func produce(argv []string) int {
	fs := flag.NewFlagSet("produce", flag.ExitOnError)
	namesrv := fs.String("namesrv", "127.0.0.1:9876", "name server address(es), ';' separated")
	topic := fs.String("topic", "", "topic")
	mode := fs.String("mode", "sync", "sync|async|oneway|batch")
	count := fs.Int("count", 10, "messages to send")
	queueID := fs.Int("queue-id", -1, "send to this queue id only")
	tags := fs.String("tags", "", "tag")
	keys := fs.String("keys", "key-{i}", "keys template")
	body := fs.String("body", "body-{i}", "body template")
	delay := fs.Int("delay-level", 0, "delay level")
	group := fs.String("group", fmt.Sprintf("PID_go_interop_%d", os.Getpid()), "producer group")
	vip := fs.Bool("vip", false, "send through the VIP channel (listenPort-2)")
	timeout := fs.Int("timeout", 60, "seconds to wait for async sends")
	batchSize := fs.Int("batch-size", 16, "messages per batch in batch mode")
	accessKey := fs.String("access-key", "", "ACL access key (sign requests)")
	secretKey := fs.String("secret-key", "", "ACL secret key")
	useTLS := fs.Bool("tls", false, "TLS to name servers and brokers")
	var props multiFlag
	fs.Var(&props, "prop", "user property k=v (repeatable)")
	_ = fs.Parse(argv)
	if *topic == "" {
		fail(fmt.Errorf("missing -topic"))
	}

	opts := []producer.Option{
		producer.WithNsResolver(primitive.NewPassthroughResolver(strings.Split(*namesrv, ";"))),
		producer.WithGroupName(*group),
		producer.WithRetry(2),
		producer.WithVIPChannel(*vip),
		producer.WithSendMsgTimeout(5 * time.Second),
	}
	if *queueID >= 0 {
		opts = append(opts, producer.WithQueueSelector(queueIDSelector{id: *queueID}))
	}
	if *useTLS {
		opts = append(opts, producer.WithTls(true))
	}
	if *accessKey != "" {
		opts = append(opts, producer.WithCredentials(primitive.Credentials{AccessKey: *accessKey, SecretKey: *secretKey}))
	}
	p, err := rocketmq.NewProducer(opts...)
	if err != nil {
		fail(err)
	}
	if err := p.Start(); err != nil {
		fail(err)
	}
	defer p.Shutdown()

	build := func(i int) *primitive.Message {
		idx := strconv.Itoa(i)
		m := primitive.NewMessage(*topic, []byte(strings.ReplaceAll(*body, "{i}", idx)))
		if *tags != "" {
			m.WithTag(strings.ReplaceAll(*tags, "{i}", idx))
		}
		if *keys != "" {
			k := *keys
			if strings.Contains(k, "{i}") {
				k = strings.ReplaceAll(k, "{i}", idx)
			} else {
				k += idx
			}
			m.WithKeys([]string{k})
		}
		for _, kv := range props {
			parts := strings.SplitN(kv, "=", 2)
			if len(parts) == 2 {
				m.WithProperty(parts[0], strings.ReplaceAll(parts[1], "{i}", idx))
			}
		}
		if *delay > 0 {
			m.WithDelayTimeLevel(*delay)
		}
		return m
	}

	failed := int64(0)
	ctx := context.Background()
	switch *mode {
	case "sync":
		for i := 0; i < *count; i++ {
			r, err := p.SendSync(ctx, build(i))
			if err != nil {
				failed++
				emit(event{"event": "send-error", "i": i, "error": err.Error()})
				continue
			}
			emit(sendEvent(i, r))
		}
	case "async":
		var wg sync.WaitGroup
		for i := 0; i < *count; i++ {
			idx := i
			wg.Add(1)
			err := p.SendAsync(ctx, func(_ context.Context, r *primitive.SendResult, err error) {
				defer wg.Done()
				if err != nil {
					atomic.AddInt64(&failed, 1)
					emit(event{"event": "send-error", "i": idx, "error": err.Error()})
					return
				}
				emit(sendEvent(idx, r))
			}, build(i))
			if err != nil {
				wg.Done()
				atomic.AddInt64(&failed, 1)
				emit(event{"event": "send-error", "i": idx, "error": err.Error()})
			}
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Duration(*timeout) * time.Second):
			emit(event{"event": "timeout"})
			atomic.AddInt64(&failed, 1)
		}
	case "oneway":
		for i := 0; i < *count; i++ {
			if err := p.SendOneWay(ctx, build(i)); err != nil {
				failed++
				emit(event{"event": "send-error", "i": i, "error": err.Error()})
				continue
			}
			emit(event{"event": "send", "i": i, "status": "ONEWAY"})
		}
	case "batch":
		for start := 0; start < *count; start += *batchSize {
			end := start + *batchSize
			if end > *count {
				end = *count
			}
			var msgs []*primitive.Message
			for i := start; i < end; i++ {
				msgs = append(msgs, build(i))
			}
			r, err := p.SendSync(ctx, msgs...)
			if err != nil {
				for i := start; i < end; i++ {
					failed++
					emit(event{"event": "send-error", "i": i, "error": err.Error()})
				}
				continue
			}
			ids := strings.Split(r.MsgID, ",")
			offIDs := strings.Split(r.OffsetMsgID, ",")
			for i := start; i < end; i++ {
				k := i - start
				e := sendEvent(i, r)
				e["queueOffset"] = r.QueueOffset + int64(k)
				e["batchStart"] = start
				if k < len(ids) {
					e["msgId"] = ids[k]
				}
				if k < len(offIDs) {
					e["offsetMsgId"] = offIDs[k]
				}
				emit(e)
			}
		}
	default:
		fail(fmt.Errorf("unknown -mode %s", *mode))
	}
	emit(event{"event": "done", "sent": int64(*count) - failed, "failed": failed})
	if failed > 0 {
		return 2
	}
	return 0
}

func msgEvent(m *primitive.MessageExt) event {
	props := map[string]string{}
	for k, v := range m.GetProperties() {
		props[k] = v
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e := event{"event": "msg", "topic": m.Topic, "tags": m.GetTags(), "keys": m.GetKeys(),
		"body": string(m.Body), "bodySize": len(m.Body), "properties": props,
		"msgId": m.MsgId, "offsetMsgId": m.OffsetMsgId, "queueOffset": m.QueueOffset,
		"commitLogOffset": m.CommitLogOffset, "reconsumeTimes": m.ReconsumeTimes,
		"bornTimestamp": m.BornTimestamp, "storeTimestamp": m.StoreTimestamp,
		"bornHost": m.BornHost, "storeHost": m.StoreHost, "sysFlag": m.SysFlag, "bodyCRC": m.BodyCRC}
	if m.Queue != nil {
		e["queueId"] = m.Queue.QueueId
		e["brokerName"] = m.Queue.BrokerName
	}
	return e
}

func pushConsume(argv []string) int {
	fs := flag.NewFlagSet("push-consume", flag.ExitOnError)
	namesrv := fs.String("namesrv", "127.0.0.1:9876", "name server address(es), ';' separated")
	topic := fs.String("topic", "", "topic")
	group := fs.String("group", fmt.Sprintf("CID_go_interop_%d", os.Getpid()), "consumer group")
	expr := fs.String("expr", "*", "tag expression (or SQL92 with -sql)")
	sql := fs.Bool("sql", false, "expr is SQL92")
	model := fs.String("model", "clustering", "clustering|broadcasting")
	count := fs.Int("count", 10, "messages to wait for")
	timeout := fs.Int("timeout", 60, "seconds")
	from := fs.String("from", "first", "first|last")
	orderly := fs.Bool("orderly", false, "orderly consumption")
	reconsumeOnce := fs.Bool("reconsume-once", false, "ask for redelivery of each message once")
	vip := fs.Bool("vip", false, "VIP channel")
	accessKey := fs.String("access-key", "", "ACL access key (sign requests)")
	secretKey := fs.String("secret-key", "", "ACL secret key")
	_ = fs.Parse(argv)
	if *topic == "" {
		fail(fmt.Errorf("missing -topic"))
	}

	mm := consumer.Clustering
	if strings.EqualFold(*model, "broadcasting") {
		mm = consumer.BroadCasting
	}
	fw := consumer.ConsumeFromFirstOffset
	if *from == "last" {
		fw = consumer.ConsumeFromLastOffset
	}
	copts := []consumer.Option{
		consumer.WithNsResolver(primitive.NewPassthroughResolver(strings.Split(*namesrv, ";"))),
		consumer.WithGroupName(*group),
		consumer.WithConsumerModel(mm),
		consumer.WithConsumeFromWhere(fw),
		consumer.WithConsumerOrder(*orderly),
		consumer.WithConsumeMessageBatchMaxSize(1),
		consumer.WithVIPChannel(*vip),
	}
	if *accessKey != "" {
		copts = append(copts, consumer.WithCredentials(primitive.Credentials{AccessKey: *accessKey, SecretKey: *secretKey}))
	}
	c, err := rocketmq.NewPushConsumer(copts...)
	if err != nil {
		fail(err)
	}
	var received int64
	done := make(chan struct{})
	var doneOnce sync.Once
	var seen sync.Map
	sel := consumer.MessageSelector{Type: consumer.TAG, Expression: *expr}
	if *sql {
		sel.Type = consumer.SQL92
	}
	err = c.Subscribe(*topic, sel, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			e := msgEvent(m)
			if *reconsumeOnce {
				if _, dup := seen.LoadOrStore(m.MsgId, true); !dup && m.ReconsumeTimes == 0 {
					if *orderly {
						e["status"] = "SUSPEND_CURRENT_QUEUE_A_MOMENT"
						emit(e)
						return consumer.SuspendCurrentQueueAMoment, nil
					}
					e["status"] = "RECONSUME_LATER"
					emit(e)
					return consumer.ConsumeRetryLater, nil
				}
			}
			e["status"] = "SUCCESS"
			emit(e)
			if atomic.AddInt64(&received, 1) >= int64(*count) {
				doneOnce.Do(func() { close(done) })
			}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		fail(err)
	}
	if err := c.Start(); err != nil {
		fail(err)
	}
	emit(event{"event": "started", "group": *group})
	name := "done"
	select {
	case <-done:
	case <-time.After(time.Duration(*timeout) * time.Second):
		name = "timeout"
	}
	time.Sleep(200 * time.Millisecond)
	_ = c.Shutdown()
	emit(event{"event": name, "received": atomic.LoadInt64(&received), "expected": *count})
	return 0
}

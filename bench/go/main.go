// The second load generator of bench/run.py: the official Apache RocketMQ Go client
// (rocketmq-client-go/v2) in the style of its own benchmark, one client per process.
// bench/lib/goloadgen.py starts several `goloadgen produce` processes and one `goloadgen consume`
// and merges what they print, so that no single client's efficiency decides a ratio.
//
//	goloadgen produce -namesrv ADDR -topic T -threads N -size B -start-ms MS -end-ms MS
//	                  [-topics T1,T2,...] [-key-prefix P] [-count N]
//	goloadgen consume -namesrv ADDR -topic T -group G -start-ms MS -end-ms MS -drain S [-groups N]
//
// For the scale workloads: -topics spreads the sends round-robin over many topics, -key-prefix gives
// every message a unique key, -count stops after N acknowledged messages (a backlog fill),
// -groups runs N push consumers of groups G_0..G_N-1, each reading every message.
//
// produce sends synchronously from N goroutines until end-ms (wall clock, shared by every
// process) and prints one JSON object: counts, and the latencies (microseconds) of the sends
// started inside [start-ms, end-ms). consume prints {"event":"ready"} once started, then reads
// the number of messages the producers had acknowledged from stdin, waits until it has seen
// them all (or drain seconds), and prints its counts and end-to-end latencies.
// Client logs go to $POCKETMQ_GO_LOG (default: a file in the temp dir), never to stdout.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
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

func nowMs() int64 { return time.Now().UnixMilli() }

func fail(err error) {
	_ = json.NewEncoder(os.Stdout).Encode(map[string]string{"event": "error", "error": err.Error()})
	os.Exit(1)
}

func setupLog() {
	path := os.Getenv("POCKETMQ_GO_LOG")
	if path == "" {
		path = filepath.Join(os.TempDir(), fmt.Sprintf("pocketmq-goloadgen-%d.log", os.Getpid()))
	}
	rlog.SetLogLevel("warn")
	_ = rlog.SetOutputPath(path)
}

func resolver(namesrv string) primitive.NsResolver {
	return primitive.NewPassthroughResolver(strings.Split(namesrv, ";"))
}

func credentials(ak, sk string) *primitive.Credentials {
	if ak == "" {
		return nil
	}
	return &primitive.Credentials{AccessKey: ak, SecretKey: sk}
}

type produceResult struct {
	Sent        int64    `json:"sent"`
	Failed      int64    `json:"failed"`
	NotOK       int64    `json:"not_ok"`
	SentTotal   int64    `json:"sent_total"`
	FailedTotal int64    `json:"failed_total"`
	LatenciesUs []int64  `json:"latencies_us"`
	Errors      []string `json:"errors"`
}

func produce(argv []string) {
	fs := flag.NewFlagSet("produce", flag.ExitOnError)
	namesrv := fs.String("namesrv", "127.0.0.1:9876", "name server address(es)")
	topic := fs.String("topic", "", "topic")
	threads := fs.Int("threads", 1, "concurrent synchronous senders")
	size := fs.Int("size", 128, "body bytes")
	startMs := fs.Int64("start-ms", 0, "measured window start (unix ms)")
	endMs := fs.Int64("end-ms", 0, "measured window end (unix ms); sending stops here")
	timeout := fs.Int("send-timeout", 3000, "ms")
	topicList := fs.String("topics", "", "comma-separated topics to spread the sends over")
	keyPrefix := fs.String("key-prefix", "", "a unique key on every message: <prefix><n>, n = 1, 2, ...")
	count := fs.Int64("count", 0, "stop after this many acknowledged messages (0: at end-ms)")
	ak := fs.String("access-key", "", "ACL access key")
	sk := fs.String("secret-key", "", "ACL secret key")
	_ = fs.Parse(argv)
	topics := []string{*topic}
	if *topicList != "" {
		topics = strings.Split(*topicList, ",")
	}
	if *count > 0 && *endMs == 0 {
		*endMs = 1 << 62
	}
	var next, acked int64
	message := func(body []byte) *primitive.Message {
		n := atomic.AddInt64(&next, 1)
		m := primitive.NewMessage(topics[int(n)%len(topics)], body)
		if *keyPrefix != "" {
			m.WithKeys([]string{fmt.Sprintf("%s%d", *keyPrefix, n)})
		}
		return m
	}

	opts := []producer.Option{
		producer.WithNsResolver(resolver(*namesrv)),
		producer.WithGroupName(fmt.Sprintf("bench_pg_go_%d", os.Getpid())),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(time.Duration(*timeout) * time.Millisecond),
	}
	if c := credentials(*ak, *sk); c != nil {
		opts = append(opts, producer.WithCredentials(*c))
	}
	p, err := rocketmq.NewProducer(opts...)
	if err != nil {
		fail(err)
	}
	if err := p.Start(); err != nil {
		fail(err)
	}
	body := make([]byte, *size)
	rand.New(rand.NewSource(42)).Read(body)
	// the route lookups happen outside the measured window
	for _, t := range topics {
		if _, err := p.SendSync(context.Background(), primitive.NewMessage(t, body)); err != nil {
			fail(err)
		}
	}

	var res produceResult
	var mu sync.Mutex
	var wg sync.WaitGroup
	for t := 0; t < *threads; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []int64
			var sent, failed, notOK, sentAll, failedAll int64
			var errs []string
			for {
				start := time.Now()
				if start.UnixMilli() >= *endMs || (*count > 0 && atomic.LoadInt64(&acked) >= *count) {
					break
				}
				measured := start.UnixMilli() >= *startMs
				r, err := p.SendSync(context.Background(), message(body))
				elapsed := time.Since(start)
				if err != nil {
					failedAll++
					if measured {
						failed++
					}
					if len(errs) < 3 {
						errs = append(errs, err.Error())
					}
					continue
				}
				sentAll++
				atomic.AddInt64(&acked, 1)
				if measured {
					sent++
					lat = append(lat, elapsed.Microseconds())
					if r.Status != primitive.SendOK {
						notOK++
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.Sent += sent
			res.Failed += failed
			res.NotOK += notOK
			res.SentTotal += sentAll
			res.FailedTotal += failedAll
			res.LatenciesUs = append(res.LatenciesUs, lat...)
			if len(res.Errors) < 5 {
				res.Errors = append(res.Errors, errs...)
			}
		}()
	}
	wg.Wait()
	res.SentTotal += int64(len(topics)) // the route-lookup sends above
	_ = p.Shutdown()
	if res.LatenciesUs == nil {
		res.LatenciesUs = []int64{}
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

func pct(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i])
}

func consume(argv []string) {
	fs := flag.NewFlagSet("consume", flag.ExitOnError)
	namesrv := fs.String("namesrv", "127.0.0.1:9876", "name server address(es)")
	topic := fs.String("topic", "", "topic")
	group := fs.String("group", "", "consumer group")
	startMs := fs.Int64("start-ms", 0, "measured window start (unix ms)")
	endMs := fs.Int64("end-ms", 0, "measured window end (unix ms)")
	drain := fs.Float64("drain", 30, "seconds to wait for the last messages")
	groups := fs.Int("groups", 1, "push consumers of groups <group>_0.. (each reads everything)")
	ak := fs.String("access-key", "", "ACL access key")
	sk := fs.String("secret-key", "", "ACL secret key")
	_ = fs.Parse(argv)

	var consumed, c0, c1, firstMs, lastMs int64
	var e2eMu sync.Mutex
	var e2e []int64
	listener := func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		now := nowMs()
		atomic.CompareAndSwapInt64(&firstMs, 0, now)
		atomic.StoreInt64(&lastMs, now)
		for _, m := range msgs {
			if m.BornTimestamp >= *startMs && m.BornTimestamp < *endMs {
				e2eMu.Lock()
				e2e = append(e2e, now-m.BornTimestamp)
				e2eMu.Unlock()
			}
		}
		atomic.AddInt64(&consumed, int64(len(msgs)))
		return consumer.ConsumeSuccess, nil
	}
	var consumers []rocketmq.PushConsumer
	for g := 0; g < *groups; g++ {
		name := *group
		if *groups > 1 {
			name = fmt.Sprintf("%s_%d", *group, g)
		}
		opts := []consumer.Option{
			consumer.WithNsResolver(resolver(*namesrv)),
			consumer.WithGroupName(name),
			consumer.WithInstance(name),
			consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
			consumer.WithConsumeMessageBatchMaxSize(1),
		}
		if c := credentials(*ak, *sk); c != nil {
			opts = append(opts, consumer.WithCredentials(*c))
		}
		c, err := rocketmq.NewPushConsumer(opts...)
		if err != nil {
			fail(err)
		}
		if err := c.Subscribe(*topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"}, listener); err != nil {
			fail(err)
		}
		if err := c.Start(); err != nil {
			fail(err)
		}
		consumers = append(consumers, c)
	}
	fmt.Println(`{"event":"ready"}`)
	go func() { // the window marks, on the shared wall clock
		time.Sleep(time.Until(time.UnixMilli(*startMs)))
		atomic.StoreInt64(&c0, atomic.LoadInt64(&consumed))
		time.Sleep(time.Until(time.UnixMilli(*endMs)))
		atomic.StoreInt64(&c1, atomic.LoadInt64(&consumed))
	}()
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		fail(fmt.Errorf("no total on stdin: %w", err))
	}
	total, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil {
		fail(err)
	}
	total *= int64(*groups) // every group reads every message
	doneAt := time.Now()
	deadline := doneAt.Add(time.Duration(*drain * float64(time.Second)))
	for atomic.LoadInt64(&consumed) < total && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	drainMs := time.Since(doneAt).Milliseconds()
	for _, c := range consumers {
		_ = c.Shutdown()
	}
	e2eMu.Lock()
	sort.Slice(e2e, func(i, j int) bool { return e2e[i] < e2e[j] })
	windowS := float64(*endMs-*startMs) / 1000
	out := map[string]interface{}{
		"consumed":    atomic.LoadInt64(&consumed),
		"consume_tps": float64(atomic.LoadInt64(&c1)-atomic.LoadInt64(&c0)) / windowS,
		"drain_ms":    drainMs,
		"first_ms":    atomic.LoadInt64(&firstMs),
		"last_ms":     atomic.LoadInt64(&lastMs),
		"e2e_p50_ms":  pct(e2e, 0.50),
		"e2e_p99_ms":  pct(e2e, 0.99),
	}
	e2eMu.Unlock()
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

func main() {
	setupLog()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goloadgen produce|consume [flags]")
		os.Exit(64)
	}
	switch os.Args[1] {
	case "produce":
		produce(os.Args[2:])
	case "consume":
		consume(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "usage: goloadgen produce|consume [flags]")
		os.Exit(64)
	}
	os.Exit(0)
}

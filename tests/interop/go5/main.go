// Command go5interop drives the official RocketMQ 5 Go client
// (github.com/apache/rocketmq-clients/golang/v5 v5.1.2, gRPC) for PocketMQ's interop tests,
// run as a subprocess by tests/interop/clients.py (run_go5_driver).
//
//	go5interop produce --endpoints HOST:PORT --topic T [--count N] [--body TEXT] [--tag TAG]
//	    [--keys K] [--prop k=v ...] [--delay-ms MS] [--group MESSAGE_GROUP] [--body-size BYTES] [--keep-going]
//	    [--transaction commit|rollback|orphan --check commit|rollback --wait-check S]
//
// prints {"event": "send", "msgId", "body", "offset"} per message, then {"event": "done"}.
// --transaction sends each message as a half message of its own transaction and commits or rolls
// it back; "orphan" does neither and stays up (at most --wait-check seconds) until the server's
// check-back over the Telemetry stream has reached the checker, which answers --check and prints
// {"event": "check", "msgId"}.
//
//	go5interop simple-consume --endpoints HOST:PORT --topic T --group G [--count N]
//	    [--invisible S] [--skip-ack-first] [--change-invisible S] [--timeout S] [--await S]
//
// receives with a SimpleConsumer until N messages were acknowledged (or --timeout); each delivery
// prints {"event": "msg", "msgId", "body", "tag", "group", "attempt", "receivedAt"}. With
// --skip-ack-first the first delivery of each message is not acked (it must come back after its
// invisible time); --change-invisible S then also sets that delivery's invisible time to S seconds
// with ChangeInvisibleDuration. v5.1.2 has no PushConsumer, so there is no push-consume.
//
// Both take --access-key/--secret-key (ACL) and --tls. A failure prints {"event": "error", "error"} and exits 2. The client logs to a file under
// $rocketmq.client.logRoot (default ./logs), never to stdout. The client dials TLS on every
// endpoint in v5.1.2 and offers no option that reaches its connections; --tls=false (the default)
// swaps in plaintext through the package's NewRpcClient hook. Nothing here is PocketMQ code.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/apache/rocketmq-clients/golang/v5/credentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

var outMu sync.Mutex

func emit(fields map[string]interface{}) {
	b, _ := json.Marshal(fields)
	outMu.Lock()
	defer outMu.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

func fail(err error) {
	emit(map[string]interface{}{"event": "error", "error": err.Error()})
	os.Exit(2)
}

type props []string

func (p *props) String() string     { return strings.Join(*p, ",") }
func (p *props) Set(v string) error { *p = append(*p, v); return nil }

// setupLogging sends the client's zap log to a file (never stdout): the package logger is built
// in its init(), before main, so it is rebuilt here after the environment is set.
func setupLogging() {
	os.Setenv("mq.consoleAppender.enabled", "false")
	if os.Getenv("rocketmq.client.logRoot") == "" {
		dir, _ := os.Getwd()
		os.Setenv("rocketmq.client.logRoot", filepath.Join(dir, "logs"))
	}
	if os.Getenv("rocketmq.client.logLevel") == "" {
		os.Setenv("rocketmq.client.logLevel", "warn")
	}
	rmq.ResetLogger()
}

// usePlaintext makes every connection the client opens a plaintext one: v5.1.2's client manager
// builds its RPC clients with NewRpcClient(target) and no options, so the hook is the only way in.
func usePlaintext() {
	orig := rmq.NewRpcClient
	rmq.NewRpcClient = func(target string, opts ...rmq.RpcClientOption) (rmq.RpcClient, error) {
		plain := rmq.WithRpcClientConnOption(rmq.WithDialOptions(grpc.WithTransportCredentials(insecure.NewCredentials())))
		return orig(target, append(opts, plain)...)
	}
}

// accessKey and secretKey sign every call (the authorization header); empty when ACL is off.
var accessKey, secretKey string

func credentialFlags(fs *flag.FlagSet) {
	fs.StringVar(&accessKey, "access-key", "", "ACL access key")
	fs.StringVar(&secretKey, "secret-key", "", "ACL secret key")
}

func config(endpoints, group string) *rmq.Config {
	return &rmq.Config{Endpoint: endpoints, ConsumerGroup: group,
		Credentials: &credentials.SessionCredentials{AccessKey: accessKey, AccessSecret: secretKey}}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go5interop produce|simple-consume [flags]")
		os.Exit(64)
	}
	setupLogging()
	switch os.Args[1] {
	case "produce":
		produce(os.Args[2:])
	case "simple-consume":
		simpleConsume(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "unknown subcommand", os.Args[1])
		os.Exit(64)
	}
}

func produce(argv []string) {
	fs := flag.NewFlagSet("produce", flag.ExitOnError)
	endpoints := fs.String("endpoints", "", "proxy host:port")
	tls := fs.Bool("tls", false, "dial TLS (the client's own default) instead of plaintext")
	topic := fs.String("topic", "", "topic")
	count := fs.Int("count", 1, "messages")
	body := fs.String("body", "hello", "body (\"-i\" appended when count > 1)")
	bodySize := fs.Int("body-size", 0, "a body of this many bytes ('x') instead of --body")
	keepGoing := fs.Bool("keep-going", false, "a failed send prints {\"event\": \"send-error\"} and the next one goes on")
	tag := fs.String("tag", "", "tag")
	keys := fs.String("keys", "", "keys")
	var properties props
	fs.Var(&properties, "prop", "user property k=v (repeatable)")
	delayMs := fs.Int64("delay-ms", 0, "delivery timestamp: now + this many milliseconds")
	group := fs.String("group", "", "FIFO message group")
	txMode := fs.String("transaction", "", "commit|rollback|orphan")
	check := fs.String("check", "commit", "checker's answer: commit|rollback")
	waitCheck := fs.Float64("wait-check", 60, "seconds to wait for a check-back (orphan)")
	credentialFlags(fs)
	fs.Parse(argv)
	if !*tls {
		usePlaintext()
	}

	checked := make(chan string, 16)
	opts := []rmq.ProducerOption{rmq.WithTopics(*topic)}
	if *txMode != "" {
		answer := rmq.COMMIT
		if *check == "rollback" {
			answer = rmq.ROLLBACK
		}
		opts = append(opts, rmq.WithTransactionChecker(&rmq.TransactionChecker{
			Check: func(mv *rmq.MessageView) rmq.TransactionResolution {
				emit(map[string]interface{}{"event": "check", "msgId": mv.GetMessageId()})
				select {
				case checked <- mv.GetMessageId():
				default:
				}
				return answer
			},
		}))
	}
	producer, err := rmq.NewProducer(config(*endpoints, ""), opts...)
	if err != nil {
		fail(err)
	}
	if err := producer.Start(); err != nil {
		fail(err)
	}
	defer producer.GracefulStop()

	for i := 0; i < *count; i++ {
		text := *body
		if *count > 1 {
			text = fmt.Sprintf("%s-%d", *body, i)
		}
		if *bodySize > 0 {
			text = strings.Repeat("x", *bodySize)
		}
		msg := &rmq.Message{Topic: *topic, Body: []byte(text)}
		if *tag != "" {
			msg.SetTag(*tag)
		}
		if *keys != "" {
			msg.SetKeys(*keys)
		}
		for _, kv := range properties {
			k, v, _ := strings.Cut(kv, "=")
			msg.AddProperty(k, v)
		}
		if *delayMs > 0 {
			msg.SetDelayTimestamp(time.Now().Add(time.Duration(*delayMs) * time.Millisecond))
		}
		if *group != "" {
			msg.SetMessageGroup(*group)
		}
		var receipts []*rmq.SendReceipt
		if *txMode != "" {
			tx := producer.BeginTransaction()
			receipts, err = producer.SendWithTransaction(context.TODO(), msg, tx)
			if err == nil && *txMode == "commit" {
				err = tx.Commit()
			} else if err == nil && *txMode == "rollback" {
				err = tx.RollBack()
			}
		} else {
			receipts, err = producer.Send(context.TODO(), msg)
		}
		if err != nil && *keepGoing {
			emit(map[string]interface{}{"event": "send-error", "error": err.Error()})
			continue
		}
		if err != nil {
			fail(fmt.Errorf("send %d: %w", i, err))
		}
		for _, r := range receipts {
			emit(map[string]interface{}{"event": "send", "msgId": r.MessageID, "body": text, "offset": r.Offset})
		}
	}
	if *txMode == "orphan" {
		select {
		case <-checked:
			// The checker's answer goes out as an asynchronous EndTransaction with no signal
			// when it is done: stay up a moment so that it leaves before the shutdown.
			time.Sleep(2 * time.Second)
		case <-time.After(time.Duration(*waitCheck * float64(time.Second))):
			fail(fmt.Errorf("no transaction check-back within %v s", *waitCheck))
		}
	}
	emit(map[string]interface{}{"event": "done", "count": *count})
}

func simpleConsume(argv []string) {
	fs := flag.NewFlagSet("simple-consume", flag.ExitOnError)
	endpoints := fs.String("endpoints", "", "proxy host:port")
	tls := fs.Bool("tls", false, "dial TLS (the client's own default) instead of plaintext")
	topic := fs.String("topic", "", "topic")
	group := fs.String("group", "", "consumer group")
	count := fs.Int("count", 1, "messages to acknowledge")
	expr := fs.String("expr", "*", "tag expression")
	invisible := fs.Float64("invisible", 15, "invisible time of a receive, seconds")
	skipAckFirst := fs.Bool("skip-ack-first", false, "do not ack the first delivery of a message")
	changeInvisible := fs.Float64("change-invisible", 0, "with --skip-ack-first: ChangeInvisibleDuration of the first delivery, seconds")
	timeout := fs.Float64("timeout", 60, "seconds")
	await := fs.Float64("await", 5, "long-polling await, seconds")
	credentialFlags(fs)
	fs.Parse(argv)
	if !*tls {
		usePlaintext()
	}

	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	consumer, err := rmq.NewSimpleConsumer(config(*endpoints, *group),
		rmq.WithAwaitDuration(sec(*await)),
		rmq.WithSubscriptionExpressions(map[string]*rmq.FilterExpression{*topic: rmq.NewFilterExpression(*expr)}))
	if err != nil {
		fail(err)
	}
	if err := consumer.Start(); err != nil {
		fail(err)
	}
	defer consumer.GracefulStop()

	acked := map[string]bool{}
	seen := map[string]bool{}
	deadline := time.Now().Add(sec(*timeout))
	for len(acked) < *count && time.Now().Before(deadline) {
		views, err := consumer.Receive(context.TODO(), 16, sec(*invisible))
		if err != nil {
			var st *rmq.ErrRpcStatus
			if errors.As(err, &st) && st.GetCode() == 40401 { // MESSAGE_NOT_FOUND: nothing to receive yet
				continue
			}
			emit(map[string]interface{}{"event": "receive-error", "error": err.Error()})
			time.Sleep(500 * time.Millisecond)
			continue
		}
		for _, mv := range views {
			id := mv.GetMessageId()
			fields := map[string]interface{}{"event": "msg", "msgId": id, "body": string(mv.GetBody()),
				"attempt": mv.GetDeliveryAttempt(), "topic": mv.GetTopic(), "keys": mv.GetKeys(),
				"properties": mv.GetProperties(), "receivedAt": time.Now().UnixMilli()}
			if t := mv.GetTag(); t != nil {
				fields["tag"] = *t
			}
			if g := mv.GetMessageGroup(); g != nil {
				fields["group"] = *g
			}
			if d := mv.GetDeliveryTimestamp(); d != nil {
				fields["deliveryTimestamp"] = d.UnixMilli()
			}
			first := !seen[id]
			seen[id] = true
			if *skipAckFirst && first {
				if *changeInvisible > 0 {
					if err := consumer.ChangeInvisibleDuration(mv, sec(*changeInvisible)); err != nil {
						fields["changeError"] = err.Error()
					} else {
						fields["changed"] = true
					}
				}
				emit(fields)
				continue
			}
			if err := consumer.Ack(context.TODO(), mv); err != nil {
				fields["ackError"] = err.Error()
				emit(fields)
				continue
			}
			acked[id] = true
			emit(fields)
		}
	}
	event := "done"
	if len(acked) < *count {
		event = "timeout"
	}
	emit(map[string]interface{}{"event": event, "count": len(acked)})
}

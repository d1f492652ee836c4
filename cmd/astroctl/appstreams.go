package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
)

// quietAfter is how long `app events` (without --watch) waits for another event
// before it stops: the stream starts with the recent events, then follows.
var quietAfter = 2 * time.Second

func (a *app) appEventsCommand() *cobra.Command {
	var k8s, watch bool
	cmd := &cobra.Command{
		Use:   "events NAME [-k] [--watch]",
		Short: "Show an application's recent events (deploys, syncs, health), -k with its Kubernetes events",
		Long: `Shows the application's recent events from the events stream: Argo CD's (syncs, health,
conditions) and, with -k, the Kubernetes events of its resources. --watch keeps following;
without it astroctl stops once no event came for 2 s. -o json writes one JSON object a line.`,
		Example: "  astroctl app events hello-world\n  astroctl app events hello-world -k -o json\n  astroctl app events hello-world --watch",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			s, err := a.session()
			if err != nil {
				return err
			}
			params := &apiclient.StreamApplicationEventsParams{}
			if k8s {
				params.K8s = &k8s
			}
			req, err := apiclient.NewStreamApplicationEventsRequest(s.ctx.Server, args[0], params)
			if err != nil {
				return err
			}
			idle := quietAfter
			if watch {
				idle = 0
			}
			return a.follow(cmd.Context(), s, req, idle, func(raw []byte) error {
				var ev apiclient.ApplicationEventFrame
				if err := json.Unmarshal(raw, &ev); err != nil {
					return err
				}
				obj := ""
				if o := ev.InvolvedObject; o != nil {
					obj = str(o.Kind) + "/" + str(o.Name)
				}
				typ := ev.Type
				if typ == "Warning" || strings.Contains(typ, "Failed") {
					typ = a.paint("31", typ)
				}
				fmt.Fprintf(a.stdout, "%s  %-10s %-14s %-18s %-24s %s\n", ev.Timestamp.Local().Format(time.DateTime), ev.Source, typ, str(ev.Reason), obj, ev.Message)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&k8s, "k8s", "k", false, "include the Kubernetes events of the application's resources")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "keep following new events (Ctrl-C stops)")
	return cmd
}

func (a *app) appLogsCommand() *cobra.Command {
	var follow, previous bool
	var tail int
	var pod, container string
	cmd := &cobra.Command{
		Use:     "logs NAME [-f] [--tail N] [--pod POD] [--container C]",
		Short:   "Print an application's logs (all its pods, or one)",
		Long:    "Prints the logs of the application's pods, each line as [pod/container] line; -o json writes one JSON object a line. -f follows.",
		Example: "  astroctl app logs hello-world\n  astroctl app logs hello-world -o json --tail 100\n  astroctl app logs hello-world -f --pod hello-world-7d9c-abcde",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			s, err := a.session()
			if err != nil {
				return err
			}
			params := &apiclient.StreamApplicationLogsParams{Follow: &follow}
			if tail > 0 {
				params.Tail = &tail
			}
			if previous {
				params.Previous = &previous
			}
			if pod != "" {
				params.Pod = &pod
			}
			if container != "" {
				params.Container = &container
			}
			req, err := apiclient.NewStreamApplicationLogsRequest(s.ctx.Server, args[0], params)
			if err != nil {
				return err
			}
			return a.follow(cmd.Context(), s, req, 0, func(raw []byte) error {
				var l apiclient.ApplicationLogFrame
				if err := json.Unmarshal(raw, &l); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "[%s/%s] %s\n", l.Pod, l.Container, l.Line)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep following new lines (Ctrl-C stops)")
	cmd.Flags().IntVar(&tail, "tail", 0, "only the last N lines of each container")
	cmd.Flags().BoolVar(&previous, "previous", false, "the logs of the previous (terminated) containers")
	cmd.Flags().StringVar(&pod, "pod", "", "only this pod")
	cmd.Flags().StringVarP(&container, "container", "c", "", "only this container")
	return cmd
}

// follow opens the WebSocket of req (built by the generated client, so its path and
// query are the contract's) and hands each text frame to show, or writes it as a JSON
// line with -o json/yaml. It returns when the server closes normally, when no frame
// came for idle (0: never), or on Ctrl-C.
func (a *app) follow(ctx context.Context, s *session, req *http.Request, idle time.Duration, show func([]byte) error) error {
	u := *req.URL
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPHeader: s.headers(),
	})
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			return newAPIError(resp.StatusCode, readAll(resp))
		}
		return err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(4 << 20)
	for {
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if idle > 0 {
			rctx, cancel = context.WithTimeout(ctx, idle)
		}
		_, raw, err := conn.Read(rctx)
		cancel()
		switch {
		case err == nil:
		case websocket.CloseStatus(err) == websocket.StatusNormalClosure || ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			_ = conn.Close(websocket.StatusNormalClosure, "")
			return nil
		default:
			return fmt.Errorf("stream: %w", err)
		}
		if a.output == "json" || a.output == "yaml" {
			var v any
			if json.Unmarshal(raw, &v) == nil {
				line, _ := json.Marshal(v)
				fmt.Fprintln(a.stdout, string(line))
			}
			continue
		}
		if err := show(raw); err != nil {
			return err
		}
	}
}

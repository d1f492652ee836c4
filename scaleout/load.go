package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// apiEndpoint is one API process as clients see it.
type apiEndpoint struct {
	url  string
	proc *proc
}

// Kinds of operation a run sends.
const (
	kindDeploy = "deploy"
	kindUpdate = "update"
	kindDelete = "delete"
)

// operation is one simulated operation a client asked for: a deploy of a new cluster,
// or an update or delete of one deployed before the measured phase.
type operation struct {
	index   int
	kind    string
	cluster string // name
	id      string // the cluster's ID, for updates and deletes
	account string
	key     string // Idempotency-Key, the same on every attempt
	// Filled in by the client:
	operationID string
	acceptedBy  int   // index of the API that answered 202
	attempts    int   // requests sent
	failovers   int   // requests sent again to another API after a transport error or 5xx
	refused     error // the last error when no API accepted it
	// Filled in when it ends:
	status string
}

// request is op's method, path and body.
func (op *operation) request() (method, path string, body any) {
	switch op.kind {
	case kindUpdate:
		return http.MethodPut, "/api/v1/clusters/" + op.id, map[string]any{"apiVersion": "platform.astropulse.io/v1",
			"kind": "K8sClusterUpdate", "spec": map[string]any{"tags": map[string]any{"scaleout": fmt.Sprint(op.index)}}}
	case kindDelete:
		return http.MethodDelete, "/api/v1/clusters/" + op.id, nil
	}
	return http.MethodPost, "/api/v1/clusters", manifest(op.cluster, op.account)
}

// client sends the run's requests, moving to another API when one does not answer.
type client struct {
	apis []*apiEndpoint
	key  string
	http *http.Client
}

var errRetryable = errors.New("retryable")

// send sends op to its API (round robin by index), and on a transport error or a 5xx
// to the next API, with the same Idempotency-Key, until one answers 202 or attempts
// run out. A 429 is waited out on the same API.
func (c *client) send(ctx context.Context, op *operation) {
	method, path, body := op.request()
	target := op.index % len(c.apis)
	backoff := 100 * time.Millisecond
	for op.attempts < 30 && ctx.Err() == nil {
		op.attempts++
		id, status, err := c.do(ctx, c.apis[target], method, path, op.key, body)
		switch {
		case err == nil:
			op.operationID, op.acceptedBy, op.refused = id, target, nil
			return
		case status == http.StatusTooManyRequests:
			op.refused = err
		case errors.Is(err, errRetryable):
			op.refused = err
			op.failovers++
			target = (target + 1) % len(c.apis)
		default:
			op.refused = err // a 4xx other than 429: sending it again would not help
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// do sends a request (a JSON body unless nil) and returns the operation ID of a 202.
func (c *client) do(ctx context.Context, api *apiEndpoint, method, path, idemKey string, body any) (string, int, error) {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return "", 0, err
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, api.url+path, r)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("X-Astro-API-Key", c.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idemKey)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %w", errRetryable, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", resp.StatusCode, fmt.Errorf("%w: reading the answer: %w", errRetryable, err)
	}
	switch {
	case resp.StatusCode == http.StatusAccepted:
		// Deploys and deletes answer in the envelope, updates the bare update result.
		var env struct {
			OperationID string `json:"operationId"`
			Data        struct {
				OperationID string `json:"operationId"`
			} `json:"data"`
		}
		if err := json.Unmarshal(answer, &env); err != nil || env.Data.OperationID+env.OperationID == "" {
			return "", resp.StatusCode, fmt.Errorf("202 without an operation ID: %s", answer)
		}
		return env.Data.OperationID + env.OperationID, resp.StatusCode, nil
	case resp.StatusCode >= 500:
		return "", resp.StatusCode, fmt.Errorf("%w: %d %s", errRetryable, resp.StatusCode, answer)
	default:
		return "", resp.StatusCode, fmt.Errorf("%d %s", resp.StatusCode, answer)
	}
}

// get sends a GET to the first live API and decodes the envelope's data into out.
func (c *client) get(ctx context.Context, path string, out any) error {
	var last error
	for _, api := range c.apis {
		if !api.proc.alive() {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.url+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("X-Astro-API-Key", c.key)
		resp, err := c.http.Do(req)
		if err != nil {
			last = err
			continue
		}
		raw, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			last = err
			continue
		}
		if resp.StatusCode != http.StatusOK {
			last = fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, raw)
			continue
		}
		return json.Unmarshal(raw, &struct {
			Data any `json:"data"`
		}{Data: out})
	}
	if last == nil {
		last = errors.New("no API is alive")
	}
	return last
}

// manifest is a deploy of cluster in its own AWS account: the cloud registry paces
// calls per account (10 a second), so 1,000 deploys in one account would measure
// that pacing, not the control plane (as make bench's (c) does).
func manifest(cluster, account string) map[string]any {
	return map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sCluster", "spec": map[string]any{
		"clusterName": cluster, "provider": "aws", "region": "us-east-1",
		"provisioner": map[string]any{"type": "eks", "eks": map[string]any{"accountId": account, "credentials": map[string]any{"type": "dynamic"}}},
		"clusterSpec": map[string]any{"dataPlane": map[string]any{"nodeGroups": []any{map[string]any{
			"name": "default-pool", "minNode": 1, "maxNode": 3, "instanceType": "ondemand", "machineTypes": []any{"t3.medium"}}}}},
	}}
}

// sendAll sends every operation, parallel at a time, and calls midway once when half of
// them have been accepted.
func (c *client) sendAll(ctx context.Context, ops []*operation, parallel int, midway func()) {
	var (
		wg       sync.WaitGroup
		accepted atomic.Int64
		once     sync.Once
		sem      = make(chan struct{}, parallel)
	)
	half := int64(len(ops) / 2)
	for _, op := range ops {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.send(ctx, op)
			if op.operationID != "" && accepted.Add(1) == half {
				// In its own goroutine: the kill must land while requests are in flight.
				go once.Do(midway)
			}
		}()
	}
	wg.Wait()
	once.Do(midway) // fewer accepted than half: still kill, so the run never passes without it
}

// clusterView is the part of a listed cluster the run reads.
type clusterView struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Status          string `json:"status"`
	LastOperationID string `json:"lastOperationId"`
}

// terminalCluster: statuses an operation leaves a cluster in when it ends.
var terminalCluster = map[string]bool{"READY": true, "FAILED": true, "CANCELLED": true, "REJECTED": true, "EXPIRED": true}

// ended tells from the cluster list whether op has ended: its cluster is in a
// terminal status with op as its last operation, or, for a delete, gone from the list
// (deleted clusters are not listed).
func ended(op *operation, listed map[string]clusterView) bool {
	cl, ok := listed[op.cluster]
	if !ok {
		return op.kind == kindDelete
	}
	return terminalCluster[cl.Status] && cl.LastOperationID == op.operationID
}

// listClusters lists the organization's clusters by name.
func (c *client) listClusters(ctx context.Context) (map[string]clusterView, error) {
	var clusters []clusterView
	if err := c.get(ctx, "/api/v1/clusters", &clusters); err != nil {
		return nil, err
	}
	byName := make(map[string]clusterView, len(clusters))
	for _, cl := range clusters {
		byName[cl.Name] = cl
	}
	return byName, nil
}

// waitTerminal polls the list endpoint until every accepted operation has ended or
// the deadline passes, and returns how many have not. An operation the list shows
// ended is confirmed by its progress endpoint, which gives its outcome: an update's
// cluster is READY with the update as its last operation from the moment the update
// is recorded until its workflow marks it UPDATING, so the list alone cannot tell.
func (c *client) waitTerminal(ctx context.Context, ops []*operation, deadline time.Duration, progress func(open int)) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	open := len(ops)
	for {
		listed, err := c.listClusters(ctx)
		if err == nil {
			var check []*operation
			for _, op := range ops {
				if op.operationID != "" && !terminalOperation[op.status] && ended(op, listed) {
					check = append(check, op)
				}
			}
			c.readOutcomes(ctx, check, 16, 1)
			open = 0
			for _, op := range ops {
				if op.operationID != "" && !terminalOperation[op.status] {
					open++
				}
			}
			progress(open)
			if open == 0 {
				return 0, nil
			}
		}
		select {
		case <-ctx.Done():
			return open, nil
		case <-time.After(2 * time.Second):
		}
	}
}

// readOutcomes reads each accepted operation's status from its progress endpoint,
// trying each up to attempts times.
func (c *client) readOutcomes(ctx context.Context, ops []*operation, parallel, attempts int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for _, op := range ops {
		if op.operationID == "" {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			var p struct {
				Status string `json:"status"`
			}
			for range attempts {
				if err := c.get(ctx, "/api/v1/clusters/"+op.ref()+"/progress?operationId="+op.operationID, &p); err == nil {
					op.status = p.Status
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
			if op.status == "" {
				op.status = "UNKNOWN"
			}
		}()
	}
	wg.Wait()
}

// ref is how the API is told op's cluster: its ID when known (a deleted cluster's
// name no longer finds it), else its name.
func (op *operation) ref() string {
	if op.id != "" {
		return op.id
	}
	return op.cluster
}

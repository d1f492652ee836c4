// Package motoproxy puts moto (the AWS emulator) behind a reverse proxy that fills
// what moto lacks for EKS: UpdateClusterVersion, UpdateNodegroupVersion,
// DescribeUpdate and the add-on calls are answered by the proxy, and later
// DescribeCluster/DescribeNodegroup answers show the versions they set. New
// clusters and node groups show CREATING for a few describes (moto makes them
// ACTIVE at once), updates InProgress for one. For tests it records every Request
// and injects faults per operation (AWS's XML or JSON errors, Retry-After, a
// resource that vanishes under its call).
//
// cloud/aws's tests use it; a development stack can point the EKS provider (or
// AWS_ENDPOINT_URL) at a Proxy in front of moto_server to run deploys, upgrades and
// deletes without AWS.
package motoproxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/astropulse/astroplane/cloud"
)

// Proxy is moto behind a reverse proxy of our own: an http.Handler.
//   - It records every request (operation, path, body; never a header) when Record
//     is set, for a test's assertions.
//   - It answers what moto does not implement: UpdateClusterVersion,
//     UpdateNodegroupVersion, DescribeUpdate, the add-on calls, and rewrites the
//     versions in later DescribeCluster/DescribeNodegroup answers.
//   - It shows new clusters and node groups CREATING for Creating describes (moto
//     makes them ACTIVE at once), and updates InProgress for one describe.
//   - It injects faults per operation (Fail, Vanish, Inject).
//
// Its state is in memory: a moto reset wants a new Proxy.
type Proxy struct {
	// Creating is how many describes of a new cluster or node group say CREATING;
	// New sets 2.
	Creating int
	// Record keeps every request for Ops, Find and Actions (tests); off, the proxy
	// keeps none (a long-running development stack).
	Record bool

	moto string
	rp   *httputil.ReverseProxy

	mu       sync.Mutex
	requests []Request
	history  []Request // every request, Reset or not
	faults   []*Fault
	polls    map[string]int
	version  map[string]string // cluster or cluster/nodegroup → Kubernetes version
	updates  map[string]map[string]any
	addons   map[string]map[string]map[string]any // cluster → add-on → addon
	creates  map[string]string                    // CreateNodegroup path → the version it asked for
}

// Request is one request the proxy received.
type Request struct {
	// Service is the signing name of the request's service (eks, ec2, sts), from its
	// SigV4 credential scope.
	Service string
	Op      string // the operation's name
	Method  string
	Path    string
	Query   url.Values
	Body    map[string]any // EKS JSON body
	Form    url.Values     // EC2 query-protocol form
	At      time.Time      // when it arrived
}

// Fault answers matching requests with an AWS error.
type Fault struct {
	match      func(Request) bool
	status     int
	code, msg  string
	retryAfter string
	times      int  // answers left; <0 = every one
	forward    bool // moto does the call before the error is answered
	hits       int
	p          *Proxy
}

// New returns a proxy in front of the moto server at motoURL.
func New(motoURL string) (*Proxy, error) {
	target, err := url.Parse(motoURL)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return nil, fmt.Errorf("moto URL %q: want http://host:port", motoURL)
	}
	f := &Proxy{Creating: 2, moto: strings.TrimSuffix(motoURL, "/"), polls: map[string]int{}, version: map[string]string{},
		updates: map[string]map[string]any{}, addons: map[string]map[string]map[string]any{}, creates: map[string]string{}}
	f.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Del("Accept-Encoding") // plain answers, so they can be rewritten
		},
		ModifyResponse: f.rewrite,
	}
	return f, nil
}

// Hits is how many requests the fault answered.
func (ft *Fault) Hits() int {
	ft.p.mu.Lock()
	defer ft.p.mu.Unlock()
	return ft.hits
}

var (
	rxCluster   = regexp.MustCompile(`^/clusters/([^/]+)$`)
	rxUpdates   = regexp.MustCompile(`^/clusters/([^/]+)/updates$`)
	rxUpdate    = regexp.MustCompile(`^/clusters/([^/]+)/updates/([^/]+)$`)
	rxGroups    = regexp.MustCompile(`^/clusters/([^/]+)/node-groups$`)
	rxGroup     = regexp.MustCompile(`^/clusters/([^/]+)/node-groups/([^/]+)$`)
	rxGroupCfg  = regexp.MustCompile(`^/clusters/([^/]+)/node-groups/([^/]+)/update-config$`)
	rxGroupVer  = regexp.MustCompile(`^/clusters/([^/]+)/node-groups/([^/]+)/update-version$`)
	rxAddons    = regexp.MustCompile(`^/clusters/([^/]+)/addons$`)
	rxAddon     = regexp.MustCompile(`^/clusters/([^/]+)/addons/([^/]+)$`)
	rxAddonUp   = regexp.MustCompile(`^/clusters/([^/]+)/addons/([^/]+)/update$`)
	rxTags      = regexp.MustCompile(`^/tags/(.+)$`)
	eksOpByPath = []struct {
		method string
		rx     *regexp.Regexp
		op     string
	}{
		{"POST", regexp.MustCompile(`^/clusters$`), "CreateCluster"}, {"GET", regexp.MustCompile(`^/clusters$`), "ListClusters"},
		{"GET", rxCluster, "DescribeCluster"}, {"DELETE", rxCluster, "DeleteCluster"},
		{"POST", rxUpdates, "UpdateClusterVersion"}, {"GET", rxUpdates, "ListUpdates"}, {"GET", rxUpdate, "DescribeUpdate"},
		{"POST", rxGroups, "CreateNodegroup"}, {"GET", rxGroups, "ListNodegroups"},
		{"GET", rxGroup, "DescribeNodegroup"}, {"DELETE", rxGroup, "DeleteNodegroup"},
		{"POST", rxGroupCfg, "UpdateNodegroupConfig"}, {"POST", rxGroupVer, "UpdateNodegroupVersion"},
		{"POST", rxAddons, "CreateAddon"}, {"GET", rxAddons, "ListAddons"},
		{"GET", rxAddon, "DescribeAddon"}, {"DELETE", rxAddon, "DeleteAddon"}, {"POST", rxAddonUp, "UpdateAddon"},
		{"GET", regexp.MustCompile(`^/addons/supported-versions$`), "DescribeAddonVersions"},
		{"POST", rxTags, "TagResource"}, {"DELETE", rxTags, "UntagResource"}, {"GET", rxTags, "ListTagsForResource"},
	}
)

// IsEC2 reports whether r is an EC2 request.
func (r Request) IsEC2() bool { return r.Service == "ec2" }

// scope is the service of a SigV4 Authorization header
// (Credential=AKID/20260101/us-east-1/eks/aws4_request).
var scope = regexp.MustCompile(`Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request`)

// ServeHTTP answers an AWS request: a fault's error, the proxy's own answer for
// what moto lacks, or moto's (rewritten).
func (f *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rp := f.rp
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	req := Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), At: time.Now()}
	if p, err := url.PathUnescape(req.Path); err == nil {
		req.Path = p
	}
	if m := scope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		req.Service = m[1]
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		req.Form, _ = url.ParseQuery(string(body))
		req.Op = req.Form.Get("Action")
	} else {
		for _, e := range eksOpByPath {
			if e.method == r.Method && e.rx.MatchString(req.Path) {
				req.Op = e.op
				break
			}
		}
		if len(body) > 0 {
			_ = json.Unmarshal(body, &req.Body)
		}
	}
	f.mu.Lock()
	if f.Record {
		f.requests = append(f.requests, req)
		f.history = append(f.history, req)
	}
	if req.Op == "CreateNodegroup" {
		v, _ := req.Body["version"].(string)
		f.creates[req.Path] = v
	}
	var hit *Fault
	for _, ft := range f.faults {
		if ft.times != 0 && ft.match(req) {
			hit = ft
			ft.hits++
			if ft.times > 0 {
				ft.times--
			}
			break
		}
	}
	f.mu.Unlock()
	if hit != nil {
		if hit.forward {
			rec := httptest.NewRecorder()
			f.handle(rec, r, req, rp)
		}
		f.answerError(w, req, hit.status, hit.code, hit.msg, hit.retryAfter)
		return
	}
	f.handle(w, r, req, rp)
}

// handle answers req: by the proxy itself for what moto lacks, else by moto.
func (f *Proxy) handle(w http.ResponseWriter, r *http.Request, req Request, rp *httputil.ReverseProxy) {
	switch req.Op {
	case "UpdateClusterVersion":
		f.updateClusterVersion(w, r, req)
	case "DescribeUpdate":
		f.describeUpdate(w, req)
	case "UpdateNodegroupVersion":
		f.updateNodegroupVersion(w, r, req)
	case "CreateAddon", "DescribeAddon", "UpdateAddon", "ListAddons", "DeleteAddon":
		f.addon(w, r, req)
	case "DescribeAddonVersions":
		kv := req.Query.Get("kubernetesVersion")
		name := req.Query.Get("addonName")
		writeJSON(w, 200, map[string]any{"addons": []any{map[string]any{"addonName": name, "type": "networking",
			"addonVersions": []any{map[string]any{"addonVersion": addonVersion(name, kv),
				"compatibilities": []any{map[string]any{"clusterVersion": kv, "defaultVersion": true}}}}}}})
	default:
		rp.ServeHTTP(w, r)
	}
}

func addonVersion(name, kv string) string { return fmt.Sprintf("v%s.0-eksbuild.1", kv) }

// rewrite adjusts moto's answers: versions the proxy changed, CREATING for the
// first describes of a new resource, the version a node group takes from its
// cluster, and forgetting what belonged to a deleted cluster.
func (f *Proxy) rewrite(resp *http.Response) error {
	if resp.StatusCode >= 300 || resp.Request == nil {
		return nil
	}
	path := resp.Request.URL.Path
	method := resp.Request.Method
	var key, field string
	switch {
	case method == "GET" && rxCluster.MatchString(path):
		key, field = rxCluster.FindStringSubmatch(path)[1], "cluster"
	case method == "GET" && rxGroup.MatchString(path):
		m := rxGroup.FindStringSubmatch(path)
		key, field = m[1]+"/"+m[2], "nodegroup"
	case method == "POST" && rxGroups.MatchString(path):
		m := rxGroups.FindStringSubmatch(path)
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var out map[string]map[string]any
		if json.Unmarshal(body, &out) == nil && out["nodegroup"] != nil {
			ng, _ := out["nodegroup"]["nodegroupName"].(string)
			f.mu.Lock()
			f.polls[m[1]+"/"+ng] = 0
			f.mu.Unlock()
			if f.requestedVersion(resp.Request) == "" {
				f.setVersion(m[1]+"/"+ng, f.clusterVersion(resp.Request, m[1]))
			}
		}
		return nil
	case method == "POST" && path == "/clusters":
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var out map[string]map[string]any
		if json.Unmarshal(body, &out) == nil && out["cluster"] != nil {
			name, _ := out["cluster"]["name"].(string)
			f.mu.Lock()
			f.polls[name] = 0
			f.mu.Unlock()
		}
		return nil
	case method == "DELETE" && rxCluster.MatchString(path):
		name := rxCluster.FindStringSubmatch(path)[1]
		f.mu.Lock()
		delete(f.version, name)
		delete(f.addons, name)
		delete(f.polls, name)
		f.mu.Unlock()
		return nil
	default:
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var out map[string]map[string]any
	_ = json.Unmarshal(body, &out) // not JSON: out stays empty
	if out[field] == nil {
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil
	}
	f.mu.Lock()
	if v, ok := f.version[key]; ok {
		out[field]["version"] = v
	}
	if n, ok := f.polls[key]; ok && n < f.Creating {
		f.polls[key] = n + 1
		out[field]["status"] = "CREATING"
	}
	f.mu.Unlock()
	body, _ = json.Marshal(out)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

func (f *Proxy) requestedVersion(r *http.Request) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates[r.URL.Path]
}

func (f *Proxy) setVersion(key, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.version[key] = v
}

// clusterVersion is the cluster's version as the proxy shows it ("" when it does
// not exist), asking moto with the headers of r.
func (f *Proxy) clusterVersion(r *http.Request, name string) string {
	f.mu.Lock()
	v, ok := f.version[name]
	f.mu.Unlock()
	if ok {
		return v
	}
	status, body := f.motoGet(r, "/clusters/"+url.PathEscape(name))
	if status != 200 {
		return ""
	}
	var out map[string]map[string]any
	_ = json.Unmarshal(body, &out)
	v, _ = out["cluster"]["version"].(string)
	return v
}

// motoGet asks moto for path with r's headers (its signature names the service and
// region).
func (f *Proxy) motoGet(r *http.Request, path string) (int, []byte) {
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, f.moto+path, nil)
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "User-Agent"} {
		req.Header.Set(h, r.Header.Get(h))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (f *Proxy) newUpdate(typ string, params map[string]string) map[string]any {
	var ps []any
	for k, v := range params {
		ps = append(ps, map[string]any{"type": k, "value": v})
	}
	u := map[string]any{"id": fmt.Sprintf("upd-%d", time.Now().UnixNano()), "status": "InProgress", "type": typ,
		"params": ps, "createdAt": float64(time.Now().Unix()), "errors": []any{}}
	f.mu.Lock()
	f.updates[u["id"].(string)] = u
	f.mu.Unlock()
	return u
}

func (f *Proxy) updateClusterVersion(w http.ResponseWriter, r *http.Request, req Request) {
	name := rxUpdates.FindStringSubmatch(req.Path)[1]
	cur := f.clusterVersion(r, name)
	if cur == "" {
		f.answerError(w, req, 404, "ResourceNotFoundException", "No cluster found for name: "+name+".", "")
		return
	}
	v, _ := req.Body["version"].(string)
	f.setVersion(name, v)
	writeJSON(w, 200, map[string]any{"update": f.newUpdate("VersionUpdate", map[string]string{"Version": v})})
}

func (f *Proxy) updateNodegroupVersion(w http.ResponseWriter, r *http.Request, req Request) {
	m := rxGroupVer.FindStringSubmatch(req.Path)
	if status, _ := f.motoGet(r, "/clusters/"+url.PathEscape(m[1])+"/node-groups/"+url.PathEscape(m[2])); status != 200 {
		f.answerError(w, req, 404, "ResourceNotFoundException", "No node group found for name: "+m[2]+".", "")
		return
	}
	v, _ := req.Body["version"].(string)
	if v == "" {
		v = f.clusterVersion(r, m[1])
	}
	f.setVersion(m[1]+"/"+m[2], v)
	writeJSON(w, 200, map[string]any{"update": f.newUpdate("VersionUpdate", map[string]string{"Version": v})})
}

func (f *Proxy) describeUpdate(w http.ResponseWriter, req Request) {
	id := rxUpdate.FindStringSubmatch(req.Path)[2]
	f.mu.Lock()
	u, ok := f.updates[id]
	var out []byte
	if ok {
		out, _ = json.Marshal(map[string]any{"update": u})
		u["status"] = "Successful" // the next describe sees it done
	}
	f.mu.Unlock()
	if !ok {
		f.answerError(w, req, 404, "ResourceNotFoundException", "No update found for ID: "+id+".", "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func (f *Proxy) addon(w http.ResponseWriter, r *http.Request, req Request) {
	var cluster, name string
	for _, rx := range []*regexp.Regexp{rxAddonUp, rxAddon, rxAddons} {
		if m := rx.FindStringSubmatch(req.Path); m != nil {
			cluster = m[1]
			if len(m) > 2 {
				name = m[2]
			}
			break
		}
	}
	if f.clusterVersion(r, cluster) == "" {
		f.answerError(w, req, 404, "ResourceNotFoundException", "No cluster found for name: "+cluster+".", "")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addons[cluster] == nil {
		f.addons[cluster] = map[string]map[string]any{}
	}
	switch req.Op {
	case "CreateAddon":
		name, _ = req.Body["addonName"].(string)
		if f.addons[cluster][name] != nil {
			f.answerError(w, req, 409, "ResourceInUseException", "Addon already exists.", "")
			return
		}
		a := map[string]any{"addonName": name, "clusterName": cluster, "status": "CREATING", "addonVersion": req.Body["addonVersion"],
			"addonArn": "arn:aws:eks:us-east-1:123456789012:addon/" + cluster + "/" + name, "createdAt": float64(time.Now().Unix())}
		f.addons[cluster][name] = a
		writeJSON(w, 200, map[string]any{"addon": a})
	case "DescribeAddon":
		a := f.addons[cluster][name]
		if a == nil {
			f.answerError(w, req, 404, "ResourceNotFoundException", "No addon: "+name+" found in cluster: "+cluster, "")
			return
		}
		writeJSON(w, 200, map[string]any{"addon": a})
		a["status"] = "ACTIVE" // the next describe sees it ready
	case "UpdateAddon":
		a := f.addons[cluster][name]
		if a == nil {
			f.answerError(w, req, 404, "ResourceNotFoundException", "No addon: "+name+" found in cluster: "+cluster, "")
			return
		}
		a["addonVersion"] = req.Body["addonVersion"]
		u := map[string]any{"id": fmt.Sprintf("upd-%d", time.Now().UnixNano()), "status": "InProgress", "type": "AddonUpdate",
			"createdAt": float64(time.Now().Unix()), "errors": []any{}}
		f.updates[u["id"].(string)] = u
		writeJSON(w, 200, map[string]any{"update": u})
	case "ListAddons":
		names := []string{}
		for n := range f.addons[cluster] {
			names = append(names, n)
		}
		writeJSON(w, 200, map[string]any{"addons": names})
	case "DeleteAddon":
		a := f.addons[cluster][name]
		if a == nil {
			f.answerError(w, req, 404, "ResourceNotFoundException", "No addon: "+name+" found in cluster: "+cluster, "")
			return
		}
		delete(f.addons[cluster], name)
		writeJSON(w, 200, map[string]any{"addon": a})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// answerError writes an AWS error in req's protocol (EC2's XML, EKS's JSON).
func (f *Proxy) answerError(w http.ResponseWriter, req Request, status int, code, msg, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	switch {
	case req.IsEC2():
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>fake</RequestID></Response>`,
			html.EscapeString(code), html.EscapeString(msg))
		return
	case req.Form != nil: // the query protocol (STS)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake</RequestId></ErrorResponse>`,
			html.EscapeString(code), html.EscapeString(msg))
		return
	}
	w.Header().Set("X-Amzn-Errortype", code)
	writeJSON(w, status, map[string]any{"message": msg})
}

// Fail makes the proxy answer requests matching match with the AWS error code,
// status and message (and a Retry-After header when retryAfter is set), times times
// (<0: every time).
func (f *Proxy) Fail(match func(Request) bool, status int, code, msg, retryAfter string, times int) *Fault {
	ft := &Fault{match: match, status: status, code: code, msg: msg, retryAfter: retryAfter, times: times, p: f}
	f.mu.Lock()
	f.faults = append(f.faults, ft)
	f.mu.Unlock()
	return ft
}

// Vanish makes the next request of op happen in moto but answer "not found", as
// when someone else deleted the resource a moment before.
func (f *Proxy) Vanish(op string) *Fault {
	ft := f.Fail(Op(op), 404, "ResourceNotFoundException", "No node group found.", "", 1)
	ft.forward = true
	return ft
}

// Op matches the requests of the operation name (CreateNodegroup, CreateVpc…).
func Op(name string) func(Request) bool { return func(r Request) bool { return r.Op == name } }

// wireError is the AWS error a cloud error kind stands for, in EC2's or EKS's words.
func wireError(kind error, ec2 bool) (status int, code, msg string) {
	type e struct {
		status    int
		code, msg string
	}
	var ec2Err, eksErr e
	switch {
	case errors.Is(kind, cloud.ErrNotFound):
		ec2Err, eksErr = e{400, "InvalidVpcID.NotFound", "The vpc ID does not exist"}, e{404, "ResourceNotFoundException", "No cluster found."}
	case errors.Is(kind, cloud.ErrAlreadyExists):
		ec2Err, eksErr = e{400, "InvalidVpc.Duplicate", "The VPC already exists"}, e{409, "ResourceInUseException", "Cluster already exists with name: x"}
	case errors.Is(kind, cloud.ErrQuotaExceeded):
		ec2Err, eksErr = e{400, "VpcLimitExceeded", "The maximum number of VPCs has been reached."}, e{400, "ResourceLimitExceededException", "Cluster limit exceeded for account."}
	case errors.Is(kind, cloud.ErrInvalid):
		ec2Err, eksErr = e{400, "InvalidParameterValue", "Value for parameter is invalid."}, e{400, "InvalidParameterException", "The parameter is invalid."}
	case errors.Is(kind, cloud.ErrFailed):
		ec2Err, eksErr = e{400, "InsufficientCidrBlocks", "No free address range."}, e{400, "UnsupportedAvailabilityZoneException", "EKS has no capacity in the zone."}
	case errors.Is(kind, cloud.ErrThrottled):
		ec2Err, eksErr = e{503, "RequestLimitExceeded", "Request limit exceeded."}, e{429, "ThrottlingException", "Rate exceeded"}
	}
	if ec2 {
		return ec2Err.status, ec2Err.code, ec2Err.msg
	}
	return eksErr.status, eksErr.code, eksErr.msg
}

// Inject answers every request of a provider step with the AWS error the cloud
// error err stands for (its kind, and RetryAfter for throttling): the network step's
// requests are EC2's, every other step's EKS's. It is conformance.Harness.Inject's
// backend.
func (f *Proxy) Inject(step string, err error) {
	ec2 := step == "network"
	status, code, msg := wireError(cloud.KindOf(err), ec2)
	retry := ""
	if d, ok := cloud.RetryAfter(err); ok && d > 0 {
		retry = strconv.Itoa(int(d / time.Second))
	}
	f.Fail(func(r Request) bool { return r.IsEC2() == ec2 }, status, code, msg, retry, -1)
}

// Actions are the IAM actions of every request recorded ("eks:CreateCluster"),
// Reset or not.
func (f *Proxy) Actions() map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]bool{}
	for _, r := range f.history {
		out[r.Service+":"+r.Op] = true
	}
	return out
}

// Reset forgets the requests recorded so far (Actions keeps them).
func (f *Proxy) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

// Ops lists the operations recorded, in order, only those named when any are.
func (f *Proxy) Ops(only ...string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.requests {
		if len(only) == 0 || contains(only, r.Op) {
			out = append(out, r.Op)
		}
	}
	return out
}

// Find returns the recorded requests of op.
func (f *Proxy) Find(op string) []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Request
	for _, r := range f.requests {
		if r.Op == op {
			out = append(out, r)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package aws_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/internal/testmoto"
)

// fakeAWS is moto behind a reverse proxy of our own, which every SDK client of a
// test talks to. The proxy
//   - records every request (operation, path, body) for the test's assertions;
//   - answers what moto does not implement: UpdateClusterVersion,
//     UpdateNodegroupVersion, DescribeUpdate, the add-on calls, and rewrites the
//     versions in later DescribeCluster/DescribeNodegroup answers;
//   - shows new clusters and node groups CREATING for a few polls (moto makes them
//     ACTIVE at once), and updates InProgress for one poll;
//   - injects faults per operation: throttling with Retry-After, quotas, a
//     resource that vanished (moto does the call, the client hears "not found").
type fakeAWS struct {
	t    *testing.T
	moto *testmoto.Server
	URL  string

	mu       sync.Mutex
	requests []request
	history  []request // every request, reset or not
	faults   []*fault
	// creating is how many describes of a new cluster or node group say CREATING.
	creating int
	polls    map[string]int
	version  map[string]string // cluster or cluster/nodegroup → Kubernetes version
	updates  map[string]map[string]any
	addons   map[string]map[string]map[string]any // cluster → add-on → addon
}

// request is one request the proxy received.
type request struct {
	Op     string // EKS or EC2 operation name
	Method string
	Path   string
	Query  url.Values
	Body   map[string]any // EKS JSON body
	Form   url.Values     // EC2 query-protocol form
	At     time.Time      // when it arrived
}

// fault answers matching requests with an AWS error.
type fault struct {
	match      func(request) bool
	status     int
	code, msg  string
	retryAfter string
	times      int  // answers left; <0 = every one
	forward    bool // moto does the call before the error is answered
	hits       int
}

// newFakeOn puts a fresh proxy in front of moto, emptied first.
func newFakeOn(t *testing.T, m *testmoto.Server) *fakeAWS {
	t.Helper()
	m.Reset(t)
	f := &fakeAWS{t: t, moto: m, creating: 2, polls: map[string]int{}, version: map[string]string{},
		updates: map[string]map[string]any{}, addons: map[string]map[string]map[string]any{}}
	target, err := url.Parse(m.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Del("Accept-Encoding") // plain answers, so they can be rewritten
		},
		ModifyResponse: f.rewrite,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.serve(w, r, rp) }))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
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

// isEC2 reports whether r is an EC2 (query protocol) request.
func (r request) isEC2() bool { return r.Form != nil }

func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	req := request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), At: time.Now()}
	if p, err := url.PathUnescape(req.Path); err == nil {
		req.Path = p
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
	f.requests = append(f.requests, req)
	f.history = append(f.history, req)
	var hit *fault
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
func (f *fakeAWS) handle(w http.ResponseWriter, r *http.Request, req request, rp *httputil.ReverseProxy) {
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
func (f *fakeAWS) rewrite(resp *http.Response) error {
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
	if n, ok := f.polls[key]; ok && n < f.creating {
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

func (f *fakeAWS) requestedVersion(r *http.Request) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.requests) - 1; i >= 0; i-- {
		if q := f.requests[i]; q.Op == "CreateNodegroup" && q.Path == r.URL.Path {
			v, _ := q.Body["version"].(string)
			return v
		}
	}
	return ""
}

func (f *fakeAWS) setVersion(key, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.version[key] = v
}

// clusterVersion is the cluster's version as the proxy shows it ("" when it does
// not exist), asking moto with the headers of r.
func (f *fakeAWS) clusterVersion(r *http.Request, name string) string {
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
func (f *fakeAWS) motoGet(r *http.Request, path string) (int, []byte) {
	req, _ := http.NewRequest(http.MethodGet, f.moto.URL+path, nil)
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

func (f *fakeAWS) newUpdate(typ string, params map[string]string) map[string]any {
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

func (f *fakeAWS) updateClusterVersion(w http.ResponseWriter, r *http.Request, req request) {
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

func (f *fakeAWS) updateNodegroupVersion(w http.ResponseWriter, r *http.Request, req request) {
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

func (f *fakeAWS) describeUpdate(w http.ResponseWriter, req request) {
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

func (f *fakeAWS) addon(w http.ResponseWriter, r *http.Request, req request) {
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
			f.answerErrorLocked(w, req, 409, "ResourceInUseException", "Addon already exists.", "")
			return
		}
		a := map[string]any{"addonName": name, "clusterName": cluster, "status": "CREATING", "addonVersion": req.Body["addonVersion"],
			"addonArn": "arn:aws:eks:us-east-1:123456789012:addon/" + cluster + "/" + name, "createdAt": float64(time.Now().Unix())}
		f.addons[cluster][name] = a
		writeJSON(w, 200, map[string]any{"addon": a})
	case "DescribeAddon":
		a := f.addons[cluster][name]
		if a == nil {
			f.answerErrorLocked(w, req, 404, "ResourceNotFoundException", "No addon: "+name+" found in cluster: "+cluster, "")
			return
		}
		writeJSON(w, 200, map[string]any{"addon": a})
		a["status"] = "ACTIVE" // the next describe sees it ready
	case "UpdateAddon":
		a := f.addons[cluster][name]
		if a == nil {
			f.answerErrorLocked(w, req, 404, "ResourceNotFoundException", "No addon: "+name+" found in cluster: "+cluster, "")
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
			f.answerErrorLocked(w, req, 404, "ResourceNotFoundException", "No addon: "+name+" found in cluster: "+cluster, "")
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

func (f *fakeAWS) answerError(w http.ResponseWriter, req request, status int, code, msg, retryAfter string) {
	f.answerErrorLocked(w, req, status, code, msg, retryAfter)
}

// answerErrorLocked writes an AWS error in req's protocol (EC2's XML, EKS's JSON).
func (f *fakeAWS) answerErrorLocked(w http.ResponseWriter, req request, status int, code, msg, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	if req.isEC2() {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>fake</RequestID></Response>`, code, msg)
		return
	}
	w.Header().Set("X-Amzn-Errortype", code)
	writeJSON(w, status, map[string]any{"message": msg})
}

// fail makes the proxy answer requests matching match with the AWS error code
// (times times; <0 = until the test ends).
func (f *fakeAWS) fail(match func(request) bool, status int, code, msg, retryAfter string, times int) *fault {
	ft := &fault{match: match, status: status, code: code, msg: msg, retryAfter: retryAfter, times: times}
	f.mu.Lock()
	f.faults = append(f.faults, ft)
	f.mu.Unlock()
	return ft
}

// vanish makes the next request of op happen in moto but answer "not found", as
// when someone else deleted the resource a moment before.
func (f *fakeAWS) vanish(op string) *fault {
	ft := f.fail(func(r request) bool { return r.Op == op }, 404, "ResourceNotFoundException", "No node group found.", "", 1)
	ft.forward = true
	return ft
}

func op(name string) func(request) bool { return func(r request) bool { return r.Op == name } }

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

// inject answers every request of step with the AWS error err stands for: the
// network step's requests are EC2's, every other step's EKS's.
func (f *fakeAWS) inject(step string, err error) {
	ec2 := step == "network"
	status, code, msg := wireError(cloud.KindOf(err), ec2)
	retry := ""
	if d, ok := cloud.RetryAfter(err); ok && d > 0 {
		retry = strconv.Itoa(int(d / time.Second))
	}
	f.fail(func(r request) bool { return r.isEC2() == ec2 }, status, code, msg, retry, -1)
}

// actions are the IAM actions of every request received ("eks:CreateCluster").
func (f *fakeAWS) actions() map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]bool{}
	for _, r := range f.history {
		svc := "eks:"
		if r.isEC2() {
			svc = "ec2:"
		}
		out[svc+r.Op] = true
	}
	return out
}

// reset forgets the requests received so far.
func (f *fakeAWS) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

// ops lists the operations received, in order, optionally only those named.
func (f *fakeAWS) ops(only ...string) []string {
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

// find returns the requests of op.
func (f *fakeAWS) find(op string) []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []request
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

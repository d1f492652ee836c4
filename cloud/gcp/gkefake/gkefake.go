// Package gkefake is a wire server of Google Kubernetes Engine for tests: an
// http.Handler (serve it with httptest) speaking the REST shapes of the GKE API
// (container/v1: projects.locations.clusters, their nodePools and the location's
// operations) and the few Compute Engine calls a cluster's network needs (global
// networks and global operations) and the live catalog's zones.list and regions.list, with its
// state in memory. The official Go clients (google.golang.org/api/container/v1 and
// compute/v1) work against it
// unchanged: point them at it with option.WithEndpoint(srv.URL+"/") and
// option.WithEndpoint(srv.URL+"/compute/v1/").
//
// It plays GKE's long-running operations: every change answers with an Operation
// that is RUNNING until it has been observed PollsToDone times (an operations.get of
// it, or a get or list of the resource it changes), then DONE with its effect applied
// (a cluster RUNNING, a node pool deleted…). Errors come in Google's JSON error shape
// ({"error":{"code":…,"message":…,"status":"RESOURCE_EXHAUSTED","details":[ErrorInfo,
// RetryInfo, QuotaFailure]}}; Compute's with its "errors" list), and faults are
// injected per REST method (Inject), either as the call's answer or as the failure
// of the operation the call starts. Every request is recorded (Requests).
//
// It checks what GKE checks that a provider could get wrong: names, one operation at
// a time per cluster ("incompatible operation"), control-plane upgrades one minor at
// a time and never down, node versions not above the control plane's, the label
// fingerprint of setResourceLabels, the resource version of setMaintenancePolicy,
// node pools only on Standard clusters, networks in use not deleted, and (with Token
// set) the bearer token.
package gkefake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
)

// Server is the fake. Its zero value is not usable: make one with New. It is safe for
// concurrent use.
type Server struct {
	// PollsToDone is how many observations an operation takes to end; set before use.
	PollsToDone int
	// Token, when set, is the bearer token every request must carry (else 401).
	Token string

	mu         sync.Mutex
	seq        uint64
	clusters   map[string]*cluster // by name: projects/P/locations/L/clusters/C
	ops        map[string]*operation
	opOrder    []string
	networks   map[string]*compute.Network // by projects/P/global/networks/N
	requestIDs map[string]string           // compute requestId → operation name
	faults     []*fault
	requests   []Request
	zones      []Zone // zones.list's answer
}

type cluster struct {
	c     *container.Cluster
	pools []*container.NodePool
}

// operation is a long-running operation of either API.
type operation struct {
	gke     *container.Operation // set for GKE operations
	gce     *compute.Operation   // set for Compute operations
	name    string               // full name (GKE) or projects/P/global/operations/O
	cluster string               // the cluster it changes (GKE), for "incompatible operation"
	target  string               // the resource it changes (cluster, node pool or network name)
	polls   int
	fail    *Error
	deletes bool // a delete: failing NOT_FOUND, its resource is gone all the same
	// apply runs when it ends: its effect (ok) or its failure (!ok).
	apply func(ok bool)
}

// Request is a request the server received.
type Request struct {
	// Method is the REST method: clusters.create, nodePools.setSize, operations.get,
	// networks.insert…
	Method string
	// Name is the resource it addresses (a cluster, node pool, operation or network, or
	// the parent of a create or list).
	Name string
	// Body is the request's JSON body, if any.
	Body json.RawMessage
	// At is when it arrived.
	At time.Time
}

// New returns an empty fake whose operations end after two observations.
func New() *Server {
	return &Server{
		PollsToDone: 2,
		clusters:    map[string]*cluster{}, ops: map[string]*operation{},
		networks: map[string]*compute.Network{}, requestIDs: map[string]string{},
		zones: zoneList(defaultZones),
	}
}

// Requests returns what the server has received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Calls returns the requests of method, in order.
func (s *Server) Calls(method string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// Cluster returns a copy of the cluster of that name (projects/P/locations/L/clusters/C)
// with its node pools, as clusters.get would answer it without observing it.
func (s *Server) Cluster(name string) (*container.Cluster, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cl := s.clusters[name]
	if cl == nil {
		return nil, false
	}
	return cl.view(), true
}

// Clusters lists the names of every cluster.
func (s *Server) Clusters() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name := range s.clusters {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Networks lists the names of every network (projects/P/global/networks/N).
func (s *Server) Networks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name := range s.networks {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// AddCluster puts a RUNNING cluster in the fake, as if made outside the test: parent is
// projects/P/locations/L; version is a minor ("1.31") or a GKE version.
func (s *Server) AddCluster(parent, name, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &container.Cluster{Name: name, InitialClusterVersion: version, ResourceLabels: map[string]string{}}
	cl := s.newCluster(parent, c)
	cl.c.Status, cl.c.CurrentMasterVersion = "RUNNING", gkeVersion(version)
	s.clusters[parent+"/clusters/"+name] = cl
}

// AddNetwork puts a network in the fake, as if made outside the test (a network a
// spec brings).
func (s *Server) AddNetwork(project, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.networks[networkName(project, name)] = &compute.Network{Name: name, Id: s.next(), AutoCreateSubnetworks: true,
		SelfLink: "https://www.googleapis.com/compute/v1/" + networkName(project, name)}
}

// RemoveNodePool deletes a node pool at once, as someone else would.
func (s *Server) RemoveNodePool(clusterName, pool string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cl := s.clusters[clusterName]; cl != nil {
		cl.removePool(pool)
	}
}

func (s *Server) next() uint64 {
	s.seq++
	return s.seq
}

// now is the time the fake stamps resources with.
func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// ServeHTTP answers one request of either API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path := strings.TrimPrefix(r.URL.Path, "/")
	compute := strings.HasPrefix(path, "compute/v1/")
	if s.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.Token {
		writeError(w, compute, &Error{Code: 401, Status: "UNAUTHENTICATED", Reason: "ACCESS_TOKEN_TYPE_UNSUPPORTED",
			Message: "Request had invalid authentication credentials. Expected OAuth 2 access token."})
		return
	}
	var rt route
	switch {
	case compute:
		rt = computeRoute(r.Method, strings.TrimPrefix(path, "compute/v1/"))
	case strings.HasPrefix(path, "v1/"):
		rt = containerRoute(r.Method, strings.TrimPrefix(path, "v1/"))
	}
	if rt.method == "" {
		writeError(w, compute, &Error{Code: 404, Status: "NOT_FOUND", Message: fmt.Sprintf("%s %s is not a method of this server", r.Method, r.URL.Path)})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: rt.method, Name: rt.name, Body: json.RawMessage(body), At: time.Now()})
	req := &request{s: s, rt: rt, body: body, query: r.URL.Query()}
	if f := s.fault(rt.method, rt.name); f != nil {
		if !f.InOperation {
			writeError(w, compute, f.Err)
			return
		}
		req.opFault = f.Err
	}
	out, err := req.serve()
	if err != nil {
		writeError(w, compute, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(out)
}

// route is a request's REST method and the resource it addresses.
type route struct {
	method string
	name   string // resource or parent name
	parent string // for creates and lists
	verb   string
	http   string
}

type request struct {
	s     *Server
	rt    route
	body  []byte
	query map[string][]string
	// opFault is the error the operation this call starts fails with (Fault.InOperation).
	opFault *Error
}

func (q *request) decode(v any) *Error {
	if err := json.Unmarshal(q.body, v); err != nil {
		return invalid("Invalid JSON payload received. %v", err)
	}
	return nil
}

func (q *request) serve() (any, *Error) {
	switch q.rt.method {
	case "clusters.create":
		return q.s.createCluster(q)
	case "clusters.list":
		return q.s.listClusters(q.rt.parent)
	case "clusters.get":
		return q.s.getCluster(q.rt.name)
	case "clusters.delete":
		return q.s.deleteCluster(q)
	case "clusters.update":
		return q.s.updateCluster(q)
	case "clusters.setResourceLabels":
		return q.s.setResourceLabels(q)
	case "clusters.setMaintenancePolicy":
		return q.s.setMaintenancePolicy(q)
	case "nodePools.create":
		return q.s.createNodePool(q)
	case "nodePools.list":
		return q.s.listNodePools(q.rt.parent)
	case "nodePools.get":
		return q.s.getNodePool(q.rt.name)
	case "nodePools.delete":
		return q.s.deleteNodePool(q)
	case "nodePools.update", "nodePools.setAutoscaling", "nodePools.setSize":
		return q.s.changeNodePool(q)
	case "operations.get":
		return q.s.getOperation(q.rt.name)
	case "operations.list":
		return q.s.listOperations(q.rt.parent)
	case "networks.insert":
		return q.s.insertNetwork(q)
	case "networks.get":
		return q.s.getNetwork(q.rt.name)
	case "networks.delete":
		return q.s.deleteNetwork(q)
	case "globalOperations.get":
		return q.s.getOperation(q.rt.name)
	case "zones.list":
		return q.s.listZones(q)
	case "regions.list":
		return q.s.listRegions(q)
	}
	return nil, &Error{Code: 501, Status: "UNIMPLEMENTED", Message: q.rt.method + " is not implemented by the fake"}
}

// containerRoute names a container/v1 request (path without "v1/").
func containerRoute(httpMethod, path string) route {
	name, verb := path, ""
	if i := strings.LastIndex(path, ":"); i > strings.LastIndex(path, "/") {
		name, verb = path[:i], path[i+1:]
	}
	seg := strings.Split(name, "/")
	if len(seg) < 4 || seg[0] != "projects" || seg[2] != "locations" {
		return route{}
	}
	rt := route{name: name, verb: verb, http: httpMethod}
	key := httpMethod + " " + verb
	switch {
	case len(seg) == 5 && seg[4] == "clusters":
		rt.parent = strings.Join(seg[:4], "/")
		rt.method = map[string]string{"POST ": "clusters.create", "GET ": "clusters.list"}[key]
	case len(seg) == 6 && seg[4] == "clusters":
		rt.method = map[string]string{"GET ": "clusters.get", "DELETE ": "clusters.delete", "PUT ": "clusters.update",
			"POST setResourceLabels": "clusters.setResourceLabels", "POST setMaintenancePolicy": "clusters.setMaintenancePolicy"}[key]
	case len(seg) == 7 && seg[6] == "nodePools":
		rt.parent = strings.Join(seg[:6], "/")
		rt.method = map[string]string{"POST ": "nodePools.create", "GET ": "nodePools.list"}[key]
	case len(seg) == 8 && seg[6] == "nodePools":
		rt.method = map[string]string{"GET ": "nodePools.get", "DELETE ": "nodePools.delete", "PUT ": "nodePools.update",
			"POST setAutoscaling": "nodePools.setAutoscaling", "POST setSize": "nodePools.setSize"}[key]
	case len(seg) == 5 && seg[4] == "operations":
		rt.parent = strings.Join(seg[:4], "/")
		rt.method = map[string]string{"GET ": "operations.list"}[key]
	case len(seg) == 6 && seg[4] == "operations":
		rt.method = map[string]string{"GET ": "operations.get"}[key]
	}
	return rt
}

// computeRoute names a compute/v1 request (path without "compute/v1/").
func computeRoute(httpMethod, path string) route {
	seg := strings.Split(path, "/")
	if len(seg) == 3 && seg[0] == "projects" && seg[2] == "zones" && httpMethod == http.MethodGet {
		return route{method: "zones.list", name: path, parent: strings.Join(seg[:2], "/"), http: httpMethod}
	}
	if len(seg) == 3 && seg[0] == "projects" && seg[2] == "regions" && httpMethod == http.MethodGet {
		return route{method: "regions.list", name: path, parent: strings.Join(seg[:2], "/"), http: httpMethod}
	}
	if len(seg) < 4 || seg[0] != "projects" || seg[2] != "global" {
		return route{}
	}
	rt := route{name: path, http: httpMethod}
	switch {
	case len(seg) == 4 && seg[3] == "networks" && httpMethod == http.MethodPost:
		rt.method, rt.parent = "networks.insert", strings.Join(seg[:2], "/")
	case len(seg) == 5 && seg[3] == "networks":
		rt.method = map[string]string{"GET": "networks.get", "DELETE": "networks.delete"}[httpMethod]
	case len(seg) == 5 && seg[3] == "operations" && httpMethod == http.MethodGet:
		rt.method = "globalOperations.get"
	}
	return rt
}

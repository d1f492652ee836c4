package azure_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
	aksfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	rgfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/fake"
)

// fakeARM is one Azure subscription in memory, served to the real SDK clients through
// the SDK's own fake servers (armcontainerservice/v6/fake, armresources/fake), whose
// function fields read and change its state. Its transport answers errors as Azure
// does on the wire (status, x-ms-error-code, Retry-After, a JSON error body), so the
// SDK's own pipeline, retry policy and pollers handle them; it records every request
// and answers injected errors.
type fakeARM struct {
	sub string
	// readyAfter is how many GETs a new managed cluster answers Creating.
	readyAfter int

	mu       sync.Mutex
	groups   map[string]*armresources.ResourceGroup
	extra    map[string][]string // resource group → resources we did not make
	clusters map[string]*fakeCluster
	inject   []*injection
	requests []request
	vanish   map[string]bool // agent pools that disappear when their delete begins
	secret   string          // in every kubeconfig

	aks *aksfake.ServerFactoryTransport
	rg  *rgfake.ServerFactoryTransport
}

type fakeCluster struct {
	mc       armcontainerservice.ManagedCluster
	pools    map[string]*armcontainerservice.AgentPool
	getsLeft int
	poolBusy map[string]int // GETs an agent pool still answers its busy state
}

// request is one request the fake received: the SDK method, its HTTP method and
// path, its Authorization header and, for PUTs, its JSON body.
type request struct {
	API, Method, Host, Path, Auth string
	Body                          []byte
}

func (r request) String() string { return r.API }

type injection struct {
	prefix string // of the API name: "AgentPoolsClient." or a whole method
	err    *armError
	times  int // 0 = every call
}

// armError is an Azure error answer.
type armError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
}

func (e *armError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func (e *armError) response(req *http.Request) *http.Response {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message}})
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "X-Ms-Error-Code": {e.Code}}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(e.RetryAfter/time.Second)))
	}
	return &http.Response{StatusCode: e.Status, Status: fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status)), Proto: "HTTP/1.1",
		ProtoMajor: 1, ProtoMinor: 1, Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req}
}

func notFoundErr(code, format string, args ...any) *armError {
	return &armError{Status: http.StatusNotFound, Code: code, Message: fmt.Sprintf(format, args...)}
}

func newFakeARM(sub string) *fakeARM {
	f := &fakeARM{sub: sub, readyAfter: 2, groups: map[string]*armresources.ResourceGroup{}, extra: map[string][]string{},
		clusters: map[string]*fakeCluster{}, vanish: map[string]bool{}, secret: "kubeconfig-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	f.aks = aksfake.NewServerFactoryTransport(&aksfake.ServerFactory{
		ManagedClustersServer: f.managedClusters(),
		AgentPoolsServer:      f.agentPools(),
	})
	f.rg = rgfake.NewServerFactoryTransport(&rgfake.ServerFactory{
		ResourceGroupsServer: f.resourceGroups(),
		Server:               f.resources(),
	})
	return f
}

// Do is the transport the SDK clients use.
func (f *fakeARM) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Host == "login.microsoftonline.com" {
		return f.entra(req), nil
	}
	api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string)
	r := request{API: api, Method: req.Method, Host: req.URL.Host, Path: req.URL.Path, Auth: req.Header.Get("Authorization")}
	if req.Body != nil && req.Method == http.MethodPut {
		r.Body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(r.Body))
	}
	f.mu.Lock()
	f.requests = append(f.requests, r)
	injected := f.injected(api)
	f.mu.Unlock()
	if injected != nil {
		return injected.response(req), nil
	}
	var resp *http.Response
	var err error
	if strings.HasPrefix(api, "ResourceGroupsClient.") || strings.HasPrefix(api, "Client.") {
		resp, err = f.rg.Do(req)
	} else {
		resp, err = f.aks.Do(req)
	}
	var ae *armError
	if errors.As(err, &ae) {
		return ae.response(req), nil
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return (&armError{Status: re.StatusCode, Code: re.ErrorCode}).response(req), nil
	}
	return resp, err
}

// Service principal the fake's Microsoft Entra ID knows, and the token it issues.
const (
	spClientID     = "11111111-2222-3333-4444-555555555555"
	spClientSecret = "sp-secret-value-x9z"
	spToken        = "entra-issued-arm-token-q4r"
)

// entra answers as Microsoft Entra ID does the requests of azidentity's client secret
// credential: instance discovery, the tenant's OpenID configuration, and the token
// endpoint, which checks the client's ID and secret.
func (f *fakeARM) entra(req *http.Request) *http.Response {
	answer := func(status int, v any) *http.Response {
		body, _ := json.Marshal(v)
		return &http.Response{StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req}
	}
	tenant := strings.Split(strings.Trim(req.URL.Path, "/"), "/")[0]
	base := "https://login.microsoftonline.com/" + tenant
	switch {
	case strings.HasSuffix(req.URL.Path, "/discovery/instance"):
		return answer(http.StatusOK, map[string]any{"tenant_discovery_endpoint": base + "/v2.0/.well-known/openid-configuration", "api-version": "1.1",
			"metadata": []map[string]any{{"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net", "aliases": []string{"login.microsoftonline.com"}}}})
	case strings.HasSuffix(req.URL.Path, "/openid-configuration"):
		return answer(http.StatusOK, map[string]any{"token_endpoint": base + "/oauth2/v2.0/token", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"issuer": base + "/v2.0", "tenant_region_scope": "NA"})
	case strings.HasSuffix(req.URL.Path, "/oauth2/v2.0/token"):
		_ = req.ParseForm()
		if req.PostForm.Get("client_id") != spClientID || req.PostForm.Get("client_secret") != spClientSecret {
			return answer(http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.", "error_codes": []int{7000215}})
		}
		return answer(http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": spToken})
	}
	return answer(http.StatusNotFound, map[string]any{"error": "not_found"})
}

// injected returns the error to answer api with, if any; f.mu is held.
func (f *fakeARM) injected(api string) *armError {
	for i, in := range f.inject {
		if !strings.HasPrefix(api, in.prefix) {
			continue
		}
		if in.times > 0 {
			if in.times--; in.times == 0 {
				f.inject = slices.Delete(f.inject, i, i+1)
			}
		}
		return in.err
	}
	return nil
}

// Inject answers calls whose API name starts with prefix with err, times times (0 =
// until Clear).
func (f *fakeARM) Inject(prefix string, err *armError, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inject = append(f.inject, &injection{prefix: prefix, err: err, times: times})
}

// Clear removes every injection.
func (f *fakeARM) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inject = nil
}

// Requests returns the requests received so far.
func (f *fakeARM) Requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// APIs returns the SDK methods called so far, in order, without polls of long-running
// operations.
func (f *fakeARM) APIs() []string {
	var out []string
	for _, r := range f.Requests() {
		if !strings.HasSuffix(r.Path, "/get/fake/status") {
			out = append(out, r.API)
		}
	}
	return out
}

// AddGroup makes a resource group that exists before the test (the user's).
func (f *fakeARM) AddGroup(name, location string, resources ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[strings.ToLower(name)] = &armresources.ResourceGroup{ID: ptr(groupID(f.sub, name)), Name: ptr(name), Location: ptr(location),
		Properties: &armresources.ResourceGroupProperties{ProvisioningState: ptr("Succeeded")}}
	f.extra[strings.ToLower(name)] = resources
}

// AddGroupResource sets the resources of group we did not make.
func (f *fakeARM) AddGroupResource(group string, resources ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.extra[strings.ToLower(group)] = resources
}

// Group returns the resource group name, if it exists.
func (f *fakeARM) Group(name string) (armresources.ResourceGroup, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[strings.ToLower(name)]
	if !ok {
		return armresources.ResourceGroup{}, false
	}
	return *g, true
}

// Cluster returns a copy of the managed cluster group/name and its agent pools.
func (f *fakeARM) Cluster(group, name string) (armcontainerservice.ManagedCluster, map[string]armcontainerservice.AgentPool, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clusters[key(group, name)]
	if !ok {
		return armcontainerservice.ManagedCluster{}, nil, false
	}
	pools := map[string]armcontainerservice.AgentPool{}
	for n, p := range c.pools {
		pools[n] = *p
	}
	return f.withProfiles(c), pools, true
}

// ClusterCount is how many managed clusters exist.
func (f *fakeARM) ClusterCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.clusters)
}

// Busy puts an operation on the managed cluster (pool empty) or its agent pool:
// it answers state until its gets-th GET, which answers Succeeded.
func (f *fakeARM) Busy(group, cluster, pool, state string, gets int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.clusters[key(group, cluster)]
	if pool == "" {
		c.mc.Properties.ProvisioningState, c.getsLeft = ptr(state), gets
		return
	}
	c.pools[pool].Properties.ProvisioningState = ptr(state)
	if c.poolBusy == nil {
		c.poolBusy = map[string]int{}
	}
	c.poolBusy[pool] = gets
}

// VanishOnDelete makes agent pool name disappear by itself when its delete begins:
// the delete's status monitor then answers 404.
func (f *fakeARM) VanishOnDelete(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vanish[name] = true
}

func key(group, name string) string { return strings.ToLower(group + "/" + name) }

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func groupID(sub, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", sub, name)
}

func clusterID(sub, group, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s", sub, group, name)
}

// withProfiles is c's cluster with its agent pools as profiles, as AKS answers it;
// f.mu is held.
func (f *fakeARM) withProfiles(c *fakeCluster) armcontainerservice.ManagedCluster {
	mc := c.mc
	props := *mc.Properties
	props.AgentPoolProfiles = nil
	names := make([]string, 0, len(c.pools))
	for n := range c.pools {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		var prof armcontainerservice.ManagedClusterAgentPoolProfile
		raw, _ := json.Marshal(c.pools[n].Properties)
		_ = json.Unmarshal(raw, &prof)
		prof.Name = ptr(n)
		props.AgentPoolProfiles = append(props.AgentPoolProfiles, &prof)
	}
	mc.Properties = &props
	return mc
}

func (f *fakeARM) resourceGroups() rgfake.ResourceGroupsServer {
	return rgfake.ResourceGroupsServer{
		Get: func(_ context.Context, name string, _ *armresources.ResourceGroupsClientGetOptions) (resp azfake.Responder[armresources.ResourceGroupsClientGetResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			g, ok := f.groups[strings.ToLower(name)]
			if !ok {
				errResp.SetError(notFoundErr("ResourceGroupNotFound", "Resource group '%s' could not be found.", name))
				return
			}
			resp.SetResponse(http.StatusOK, armresources.ResourceGroupsClientGetResponse{ResourceGroup: *g}, nil)
			return
		},
		CreateOrUpdate: func(_ context.Context, name string, g armresources.ResourceGroup, _ *armresources.ResourceGroupsClientCreateOrUpdateOptions) (resp azfake.Responder[armresources.ResourceGroupsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			status := http.StatusOK
			if _, ok := f.groups[strings.ToLower(name)]; !ok {
				status = http.StatusCreated
			}
			g.ID, g.Name = ptr(groupID(f.sub, name)), ptr(name)
			g.Properties = &armresources.ResourceGroupProperties{ProvisioningState: ptr("Succeeded")}
			f.groups[strings.ToLower(name)] = &g
			resp.SetResponse(status, armresources.ResourceGroupsClientCreateOrUpdateResponse{ResourceGroup: g}, nil)
			return
		},
		BeginDelete: func(_ context.Context, name string, _ *armresources.ResourceGroupsClientBeginDeleteOptions) (resp azfake.PollerResponder[armresources.ResourceGroupsClientDeleteResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if _, ok := f.groups[strings.ToLower(name)]; !ok {
				errResp.SetError(notFoundErr("ResourceGroupNotFound", "Resource group '%s' could not be found.", name))
				return
			}
			delete(f.groups, strings.ToLower(name))
			for k := range f.clusters { // a group's deletion takes everything in it
				if strings.HasPrefix(k, strings.ToLower(name)+"/") {
					delete(f.clusters, k)
				}
			}
			resp.AddNonTerminalResponse(http.StatusAccepted, nil)
			resp.SetTerminalResponse(http.StatusOK, armresources.ResourceGroupsClientDeleteResponse{}, nil)
			return
		},
		NewListPager: func(o *armresources.ResourceGroupsClientListOptions) (resp azfake.PagerResponder[armresources.ResourceGroupsClientListResponse]) {
			f.mu.Lock()
			defer f.mu.Unlock()
			var tagName, tagValue string
			if o != nil && o.Filter != nil {
				if m := regexp.MustCompile(`^tagName eq '(.*)' and tagValue eq '(.*)'$`).FindStringSubmatch(*o.Filter); m != nil {
					tagName, tagValue = m[1], strings.ReplaceAll(m[2], "''", "'")
				}
			}
			var page armresources.ResourceGroupListResult
			for _, g := range f.groups {
				if tagName == "" || str(g.Tags[tagName]) == tagValue {
					page.Value = append(page.Value, g)
				}
			}
			resp.AddPage(http.StatusOK, armresources.ResourceGroupsClientListResponse{ResourceGroupListResult: page}, nil)
			return
		},
	}
}

func (f *fakeARM) resources() rgfake.Server {
	return rgfake.Server{
		NewListByResourceGroupPager: func(group string, _ *armresources.ClientListByResourceGroupOptions) (resp azfake.PagerResponder[armresources.ClientListByResourceGroupResponse]) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if _, ok := f.groups[strings.ToLower(group)]; !ok {
				resp.AddError(notFoundErr("ResourceGroupNotFound", "Resource group '%s' could not be found.", group))
				return
			}
			var page armresources.ResourceListResult
			for k, c := range f.clusters {
				if strings.HasPrefix(k, strings.ToLower(group)+"/") {
					page.Value = append(page.Value, &armresources.GenericResourceExpanded{ID: c.mc.ID, Name: c.mc.Name, Type: ptr("Microsoft.ContainerService/managedClusters")})
				}
			}
			for _, r := range f.extra[strings.ToLower(group)] {
				page.Value = append(page.Value, &armresources.GenericResourceExpanded{Name: ptr(r), Type: ptr("Microsoft.Storage/storageAccounts")})
			}
			resp.AddPage(http.StatusOK, armresources.ClientListByResourceGroupResponse{ResourceListResult: page}, nil)
			return
		},
	}
}

func (f *fakeARM) managedClusters() aksfake.ManagedClustersServer {
	return aksfake.ManagedClustersServer{
		Get: func(_ context.Context, group, name string, _ *armcontainerservice.ManagedClustersClientGetOptions) (resp azfake.Responder[armcontainerservice.ManagedClustersClientGetResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			c, ok := f.clusters[key(group, name)]
			if !ok {
				errResp.SetError(notFoundErr("ResourceNotFound", "The Resource 'Microsoft.ContainerService/managedClusters/%s' under resource group '%s' was not found.", name, group))
				return
			}
			if c.getsLeft > 0 {
				if c.getsLeft--; c.getsLeft == 0 {
					c.mc.Properties.ProvisioningState = ptr("Succeeded")
				}
			}
			resp.SetResponse(http.StatusOK, armcontainerservice.ManagedClustersClientGetResponse{ManagedCluster: f.withProfiles(c)}, nil)
			return
		},
		BeginCreateOrUpdate: func(_ context.Context, group, name string, mc armcontainerservice.ManagedCluster, o *armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcontainerservice.ManagedClustersClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if _, ok := f.groups[strings.ToLower(group)]; !ok {
				errResp.SetError(notFoundErr("ResourceGroupNotFound", "Resource group '%s' could not be found.", group))
				return
			}
			if c, ok := f.clusters[key(group, name)]; ok {
				if o != nil && str(o.IfNoneMatch) == "*" {
					errResp.SetError(&armError{Status: http.StatusPreconditionFailed, Code: "PreconditionFailed", Message: "The resource already exists."})
					return
				}
				// An update: the control plane's version and tags (agent pools change through AgentPoolsClient).
				if mc.Properties != nil && mc.Properties.KubernetesVersion != nil {
					c.mc.Properties.KubernetesVersion = mc.Properties.KubernetesVersion
					c.mc.Properties.CurrentKubernetesVersion = ptr(*mc.Properties.KubernetesVersion + ".3")
				}
				c.mc.Tags = mc.Tags
				resp.AddNonTerminalResponse(http.StatusOK, nil)
				resp.SetTerminalResponse(http.StatusOK, armcontainerservice.ManagedClustersClientCreateOrUpdateResponse{ManagedCluster: f.withProfiles(c)}, nil)
				return
			}
			mc.ID, mc.Name, mc.Type = ptr(clusterID(f.sub, group, name)), ptr(name), ptr("Microsoft.ContainerService/ManagedClusters")
			mc.SystemData = &armcontainerservice.SystemData{CreatedAt: ptr(time.Now().UTC().Truncate(time.Second))}
			props := *mc.Properties
			props.ProvisioningState = ptr("Creating")
			props.Fqdn = ptr(str(props.DNSPrefix) + "-k7x2q9.hcp." + str(mc.Location) + ".azmk8s.io")
			props.CurrentKubernetesVersion = ptr(str(props.KubernetesVersion) + ".3")
			props.NodeResourceGroup = ptr("MC_" + group + "_" + name + "_" + str(mc.Location))
			c := &fakeCluster{pools: map[string]*armcontainerservice.AgentPool{}, getsLeft: f.readyAfter}
			for _, prof := range props.AgentPoolProfiles {
				var pp armcontainerservice.ManagedClusterAgentPoolProfileProperties
				raw, _ := json.Marshal(prof)
				_ = json.Unmarshal(raw, &pp)
				pp.ProvisioningState = ptr("Succeeded")
				if pp.OrchestratorVersion == nil {
					pp.OrchestratorVersion = props.KubernetesVersion
				}
				c.pools[str(prof.Name)] = &armcontainerservice.AgentPool{ID: ptr(str(mc.ID) + "/agentPools/" + str(prof.Name)), Name: prof.Name, Properties: &pp}
			}
			props.AgentPoolProfiles = nil
			mc.Properties = &props
			c.mc = mc
			if f.readyAfter == 0 {
				c.mc.Properties.ProvisioningState = ptr("Succeeded")
			}
			f.clusters[key(group, name)] = c
			// Accepted: the create goes on in Azure; the provider follows it with GETs.
			resp.SetTerminalResponse(http.StatusCreated, armcontainerservice.ManagedClustersClientCreateOrUpdateResponse{ManagedCluster: f.withProfiles(c)}, nil)
			return
		},
		BeginDelete: func(_ context.Context, group, name string, _ *armcontainerservice.ManagedClustersClientBeginDeleteOptions) (resp azfake.PollerResponder[armcontainerservice.ManagedClustersClientDeleteResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if _, ok := f.clusters[key(group, name)]; !ok {
				errResp.SetError(notFoundErr("ResourceNotFound", "The Resource 'Microsoft.ContainerService/managedClusters/%s' was not found.", name))
				return
			}
			delete(f.clusters, key(group, name))
			resp.AddNonTerminalResponse(http.StatusAccepted, nil)
			resp.SetTerminalResponse(http.StatusOK, armcontainerservice.ManagedClustersClientDeleteResponse{}, nil)
			return
		},
		BeginUpdateTags: func(_ context.Context, group, name string, tags armcontainerservice.TagsObject, _ *armcontainerservice.ManagedClustersClientBeginUpdateTagsOptions) (resp azfake.PollerResponder[armcontainerservice.ManagedClustersClientUpdateTagsResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			c, ok := f.clusters[key(group, name)]
			if !ok {
				errResp.SetError(notFoundErr("ResourceNotFound", "The Resource 'Microsoft.ContainerService/managedClusters/%s' was not found.", name))
				return
			}
			c.mc.Tags = tags.Tags
			resp.AddNonTerminalResponse(http.StatusOK, nil)
			resp.SetTerminalResponse(http.StatusOK, armcontainerservice.ManagedClustersClientUpdateTagsResponse{ManagedCluster: f.withProfiles(c)}, nil)
			return
		},
		ListClusterUserCredentials: func(_ context.Context, group, name string, _ *armcontainerservice.ManagedClustersClientListClusterUserCredentialsOptions) (resp azfake.Responder[armcontainerservice.ManagedClustersClientListClusterUserCredentialsResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			c, ok := f.clusters[key(group, name)]
			if !ok {
				errResp.SetError(notFoundErr("ResourceNotFound", "The Resource 'Microsoft.ContainerService/managedClusters/%s' was not found.", name))
				return
			}
			kc := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: %s\n  cluster:\n    server: https://%s:443\nusers:\n- name: clusterUser\n  user:\n    token: %s\n",
				name, str(c.mc.Properties.Fqdn), f.secret)
			resp.SetResponse(http.StatusOK, armcontainerservice.ManagedClustersClientListClusterUserCredentialsResponse{
				CredentialResults: armcontainerservice.CredentialResults{Kubeconfigs: []*armcontainerservice.CredentialResult{{Name: ptr("clusterUser"), Value: []byte(kc)}}},
			}, nil)
			return
		},
		NewListPager: func(*armcontainerservice.ManagedClustersClientListOptions) (resp azfake.PagerResponder[armcontainerservice.ManagedClustersClientListResponse]) {
			f.mu.Lock()
			defer f.mu.Unlock()
			var page armcontainerservice.ManagedClusterListResult
			for _, c := range f.clusters {
				mc := f.withProfiles(c)
				page.Value = append(page.Value, &mc)
			}
			resp.AddPage(http.StatusOK, armcontainerservice.ManagedClustersClientListResponse{ManagedClusterListResult: page}, nil)
			return
		},
	}
}

func (f *fakeARM) agentPools() aksfake.AgentPoolsServer {
	// pool finds a cluster's pool; f.mu is held.
	pool := func(group, cluster, name string) (*fakeCluster, *armcontainerservice.AgentPool, *armError) {
		c, ok := f.clusters[key(group, cluster)]
		if !ok {
			return nil, nil, notFoundErr("ParentResourceNotFound", "Can not perform requested operation on nested resource. Parent resource '%s' not found.", cluster)
		}
		p, ok := c.pools[name]
		if !ok {
			return c, nil, notFoundErr("NotFound", "Agent pool '%s' was not found.", name)
		}
		return c, p, nil
	}
	return aksfake.AgentPoolsServer{
		Get: func(_ context.Context, group, cluster, name string, _ *armcontainerservice.AgentPoolsClientGetOptions) (resp azfake.Responder[armcontainerservice.AgentPoolsClientGetResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			c, p, err := pool(group, cluster, name)
			if err != nil {
				errResp.SetError(err)
				return
			}
			if c.poolBusy[name] > 0 {
				if c.poolBusy[name]--; c.poolBusy[name] == 0 {
					p.Properties.ProvisioningState = ptr("Succeeded")
				}
			}
			resp.SetResponse(http.StatusOK, armcontainerservice.AgentPoolsClientGetResponse{AgentPool: *p}, nil)
			return
		},
		BeginCreateOrUpdate: func(_ context.Context, group, cluster, name string, ap armcontainerservice.AgentPool, _ *armcontainerservice.AgentPoolsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcontainerservice.AgentPoolsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			c, old, err := pool(group, cluster, name)
			if c == nil {
				errResp.SetError(err)
				return
			}
			if old != nil && old.Properties != nil && str(old.Properties.VMSize) != str(ap.Properties.VMSize) {
				errResp.SetError(&armError{Status: http.StatusBadRequest, Code: "PropertyChangeNotAllowed", Message: "Changing property 'vmSize' is not allowed."})
				return
			}
			props := *ap.Properties
			props.ProvisioningState = ptr("Succeeded")
			if props.OrchestratorVersion == nil {
				props.OrchestratorVersion = c.mc.Properties.KubernetesVersion
			}
			ap.ID, ap.Name, ap.Properties = ptr(str(c.mc.ID)+"/agentPools/"+name), ptr(name), &props
			c.pools[name] = &ap
			resp.AddNonTerminalResponse(http.StatusOK, nil)
			resp.AddNonTerminalResponse(http.StatusOK, nil)
			resp.SetTerminalResponse(http.StatusOK, armcontainerservice.AgentPoolsClientCreateOrUpdateResponse{AgentPool: ap}, nil)
			return
		},
		BeginDelete: func(_ context.Context, group, cluster, name string, _ *armcontainerservice.AgentPoolsClientBeginDeleteOptions) (resp azfake.PollerResponder[armcontainerservice.AgentPoolsClientDeleteResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			c, _, err := pool(group, cluster, name)
			if err != nil {
				errResp.SetError(err)
				return
			}
			delete(c.pools, name)
			resp.AddNonTerminalResponse(http.StatusAccepted, nil)
			if f.vanish[name] { // gone by itself while the delete ran: its status monitor says 404
				resp.SetTerminalError(http.StatusNotFound, "NotFound")
				return
			}
			resp.SetTerminalResponse(http.StatusOK, armcontainerservice.AgentPoolsClientDeleteResponse{}, nil)
			return
		},
		BeginUpgradeNodeImageVersion: func(_ context.Context, group, cluster, name string, _ *armcontainerservice.AgentPoolsClientBeginUpgradeNodeImageVersionOptions) (resp azfake.PollerResponder[armcontainerservice.AgentPoolsClientUpgradeNodeImageVersionResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			_, p, err := pool(group, cluster, name)
			if err != nil {
				errResp.SetError(err)
				return
			}
			p.Properties.NodeImageVersion = ptr("AKSUbuntu-2204gen2containerd-202611.30.0")
			resp.AddNonTerminalResponse(http.StatusAccepted, nil)
			resp.SetTerminalResponse(http.StatusOK, armcontainerservice.AgentPoolsClientUpgradeNodeImageVersionResponse{AgentPool: *p}, nil)
			return
		},
	}
}

package awscatalog_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/catalog/awscatalog"
	"github.com/astropulse/astroplane/internal/testmoto"
)

// recorder keeps each request's action and the region its signature is scoped to.
type recorder struct {
	mu    sync.Mutex
	calls []string // "Action@region"
	next  http.RoundTripper
}

var scope = regexp.MustCompile(`Credential=[^/]+/\d+/([a-z0-9-]+)/`)

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	action := req.URL.Path
	if req.Body != nil && req.Method == http.MethodPost {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(b)))
		if v, err := url.ParseQuery(string(b)); err == nil && v.Get("Action") != "" {
			action = v.Get("Action")
		}
	}
	region := ""
	if m := scope.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
		region = m[1]
	}
	r.mu.Lock()
	r.calls = append(r.calls, action+"@"+region)
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *recorder) count(call string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c == call {
			n++
		}
	}
	return n
}

func config(endpoint string, rec *recorder) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIATEST", "test-secret", ""),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Transport: rec},
	}
}

func newCatalog(endpoint string) (*awscatalog.Catalog, *recorder) {
	rec := &recorder{next: http.DefaultTransport}
	cfg := config(endpoint, rec)
	return awscatalog.New(ec2.NewFromConfig(cfg), eks.NewFromConfig(cfg)), rec
}

// The live answer for a region is EC2's own: the types moto (AWS's data) offers in
// af-south-1, described exactly as the static table describes them, asked of that
// region's endpoint.
func TestMachineTypesFromEC2(t *testing.T) {
	moto := testmoto.Start(t)
	live, rec := newCatalog(moto.URL)

	got, err := live.MachineTypes(t.Context(), "af-south-1")
	if err != nil {
		t.Fatal(err)
	}
	want := catalog.MachineTypes("aws", "af-south-1")
	if len(got) < 400 || len(got) != len(want) {
		t.Fatalf("af-south-1: live %d types, static %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("live %+v\nstatic %+v", got[i], want[i])
		}
	}
	names := func(ms []catalog.MachineTypeInfo) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Name)
		}
		return out
	}(got)
	if !slices.Contains(names, "m7i.48xlarge") || slices.Contains(names, "p5.48xlarge") {
		t.Errorf("af-south-1 offers m7i.48xlarge and not p5.48xlarge; live says %v", names)
	}
	if rec.count("DescribeInstanceTypeOfferings@af-south-1") == 0 || rec.count("DescribeInstanceTypes@af-south-1") != (len(want)+99)/100 {
		t.Errorf("calls = %v, want offerings, then instance types 100 at a time, asked of af-south-1", rec.calls)
	}

	us, err := live.MachineTypes(t.Context(), "ap-southeast-3") // a small region that has p5
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(us, func(m catalog.MachineTypeInfo) bool { return m.Name == "p5.48xlarge" })
	if i < 0 || us[i].GPUs != 8 || us[i].GPUType != "nvidia-h100-80gb" || us[i].Category != catalog.CategoryGPU {
		t.Fatalf("ap-southeast-3 p5.48xlarge = %+v", us)
	}
	j := slices.IndexFunc(us, func(m catalog.MachineTypeInfo) bool { return m.Name == "t3.medium" })
	if j < 0 || us[j].PricePerHour != 0.0416 {
		t.Errorf("t3.medium lacks the static table's price: %+v", us[j])
	}
}

// moto does not implement DescribeClusterVersions: the lookup says the live catalog
// cannot answer, so callers use the static versions.
func TestVersionsUnavailableOnMoto(t *testing.T) {
	moto := testmoto.Start(t)
	live, _ := newCatalog(moto.URL)
	_, err := live.KubernetesVersions(t.Context())
	if !errors.Is(err, catalog.ErrLiveUnavailable) {
		t.Fatalf("err = %v, want ErrLiveUnavailable", err)
	}
}

// EKS's DescribeClusterVersions, served by a wire server speaking EKS's REST JSON:
// pages followed, unsupported versions dropped, newest first, the default kept.
func TestVersionsFromEKS(t *testing.T) {
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/cluster-versions" {
			http.NotFound(w, r)
			return
		}
		queries = append(queries, r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		page := map[string]any{"clusterVersions": []any{
			map[string]any{"clusterVersion": "1.32", "status": "standard-support", "defaultVersion": false, "endOfStandardSupportDate": 1774224000},
			map[string]any{"clusterVersion": "1.9", "status": "unsupported"},
		}, "nextToken": "p2"}
		if r.URL.Query().Get("nextToken") == "p2" {
			page = map[string]any{"clusterVersions": []any{
				map[string]any{"clusterVersion": "1.33", "status": "standard-support", "defaultVersion": true, "endOfStandardSupportDate": 1785283200},
				map[string]any{"clusterVersion": "1.10", "status": "extended-support"},
			}}
		}
		_ = json.NewEncoder(w).Encode(page)
	}))
	defer srv.Close()
	live, _ := newCatalog(srv.URL)
	vs, err := live.KubernetesVersions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var minors []string
	for _, v := range vs {
		minors = append(minors, v.Minor)
	}
	if !slices.Equal(minors, []string{"1.33", "1.32", "1.10"}) || !vs[0].Default || vs[1].Default ||
		!vs[1].EndOfStandardSupport.Equal(time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("versions = %+v", vs)
	}
	if len(queries) != 2 || !strings.Contains(queries[1], "nextToken=p2") {
		t.Errorf("queries = %q, want two pages", queries)
	}
}

// A region's zones are EC2's own (moto's data of eu-west-3), asked of that region's
// endpoint; a region EC2 does not know is catalog.ErrUnknownRegion, settled by
// DescribeRegions in us-east-1, and one it knows but that fails is not.
func TestZonesFromEC2(t *testing.T) {
	moto := testmoto.Start(t)
	live, rec := newCatalog(moto.URL)
	got, err := live.Zones(t.Context(), "eu-west-3")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"eu-west-3a", "eu-west-3b", "eu-west-3c"}; !slices.Equal(got, want) {
		t.Errorf("eu-west-3 zones = %v, want %v", got, want)
	}
	if rec.count("DescribeAvailabilityZones@eu-west-3") != 1 || rec.count("DescribeRegions@us-east-1") != 0 {
		t.Errorf("calls = %v, want one DescribeAvailabilityZones of eu-west-3 and nothing else", rec.calls)
	}

	_, err = live.Zones(t.Context(), "us-fake-9")
	if !errors.Is(err, catalog.ErrUnknownRegion) {
		t.Fatalf("us-fake-9: %v, want ErrUnknownRegion", err)
	}
	if rec.count("DescribeRegions@us-east-1") != 1 {
		t.Errorf("calls = %v, want DescribeRegions asked of us-east-1", rec.calls)
	}
	if !strings.Contains(err.Error(), "us-fake-9") {
		t.Errorf("the error does not name the region: %v", err)
	}
	t.Run("a known region that fails", func(t *testing.T) { zonesOfAFailingKnownRegion(t, moto) })
}

// A region DescribeRegions lists whose own endpoint fails is not declared unknown:
// the error is the endpoint's, for the caller to fall back on.
func zonesOfAFailingKnownRegion(t *testing.T, moto *testmoto.Server) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), "Action=DescribeAvailabilityZones") {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`<Response><Errors><Error><Code>Unavailable</Code><Message>try later</Message></Error></Errors></Response>`))
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		u, _ := url.Parse(moto.URL)
		r.URL.Scheme, r.URL.Host, r.RequestURI = u.Scheme, u.Host, ""
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer srv.Close()
	live, rec := newCatalog(srv.URL)
	_, err := live.Zones(t.Context(), "eu-west-3")
	if err == nil || errors.Is(err, catalog.ErrUnknownRegion) || rec.count("DescribeRegions@us-east-1") != 1 {
		t.Fatalf("err = %v after %v; want the endpoint's error, DescribeRegions asked", err, rec.calls)
	}
}

// The account's regions are EC2's DescribeRegions (moto's data), asked without
// AllRegions (so opt-in regions the account has not enabled are left out), sorted.
func TestRegionsFromEC2(t *testing.T) {
	moto := testmoto.Start(t)
	var bodies []string
	var mu sync.Mutex
	rec := &recorder{next: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(b)))
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(req)
	})}
	cfg := config(moto.URL, rec)
	live := awscatalog.New(ec2.NewFromConfig(cfg), eks.NewFromConfig(cfg))
	got, err := live.Regions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("regions: %v", got)
	for _, want := range []string{"us-east-1", "eu-west-3", "ca-central-1"} {
		if !slices.Contains(got, want) {
			t.Errorf("regions %v lack %s", got, want)
		}
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("regions %v are not sorted and unique", got)
	}
	if rec.count("DescribeRegions@us-east-1") != 1 || len(rec.calls) != 1 {
		t.Errorf("calls = %v, want one DescribeRegions", rec.calls)
	}
	if len(bodies) != 1 || !strings.Contains(bodies[0], "AllRegions=false") {
		t.Errorf("request = %q, want AllRegions=false", bodies)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

package catalog

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingLive answers from a fixed list, counting calls; fail makes the next call
// fail; gate, when set, holds calls until closed.
type countingLive struct {
	typeCalls, versionCalls atomic.Int32
	fail                    atomic.Bool
	gate                    chan struct{}
}

func (l *countingLive) MachineTypes(ctx context.Context, region string) ([]MachineTypeInfo, error) {
	l.typeCalls.Add(1)
	if l.gate != nil {
		<-l.gate
	}
	if l.fail.Load() {
		return nil, errors.New("throttled")
	}
	return []MachineTypeInfo{{Name: "t3.medium", CPUMillicores: 2000, MemoryMiB: 4096}, {Name: "in-" + region}}, nil
}

func (l *countingLive) KubernetesVersions(context.Context) ([]Version, error) {
	l.versionCalls.Add(1)
	if l.fail.Load() {
		return nil, ErrLiveUnavailable
	}
	return []Version{{Minor: "1.33", Default: true, Builds: []Build{{Version: "x", Channels: []string{"RAPID"}}}}}, nil
}

func TestCacheKeepsAnswersForTheTTL(t *testing.T) {
	live := &countingLive{}
	c := NewCache(live, time.Hour)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	ctx := t.Context()

	for range 3 {
		if _, ok, err := c.MachineType(ctx, "us-east-1", "t3.medium"); !ok || err != nil {
			t.Fatalf("t3.medium: %v %v", ok, err)
		}
	}
	if _, ok, _ := c.MachineType(ctx, "us-east-1", "m9.huge"); ok {
		t.Error("a type live does not list was found")
	}
	if n := live.typeCalls.Load(); n != 1 {
		t.Fatalf("%d lookups for one region within the TTL, want 1", n)
	}
	if ms, _ := c.MachineTypes(ctx, "eu-west-1"); len(ms) != 2 || ms[1].Name != "in-eu-west-1" || live.typeCalls.Load() != 2 {
		t.Fatalf("another region: %v after %d lookups", ms, live.typeCalls.Load())
	}
	ms, _ := c.MachineTypes(ctx, "us-east-1")
	ms[0].Name = "changed"
	if again, _ := c.MachineTypes(ctx, "us-east-1"); again[0].Name != "t3.medium" {
		t.Error("a caller changed the cache through its answer")
	}

	now = now.Add(time.Hour)
	if _, err := c.MachineTypes(ctx, "us-east-1"); err != nil || live.typeCalls.Load() != 3 {
		t.Fatalf("after the TTL: err %v, %d lookups, want a third", err, live.typeCalls.Load())
	}

	// A failure is returned, not kept.
	now = now.Add(time.Hour)
	live.fail.Store(true)
	if _, err := c.MachineTypes(ctx, "us-east-1"); err == nil {
		t.Fatal("a failed lookup answered")
	}
	live.fail.Store(false)
	if _, err := c.MachineTypes(ctx, "us-east-1"); err != nil || live.typeCalls.Load() != 5 {
		t.Fatalf("after a failure: err %v, %d lookups, want a fresh one", err, live.typeCalls.Load())
	}

	// Versions: kept, copied, and an unavailable answer is not kept.
	vs, _ := c.KubernetesVersions(ctx)
	vs[0].Builds[0].Channels[0] = "changed"
	if again, _ := c.KubernetesVersions(ctx); again[0].Builds[0].Channels[0] != "RAPID" || live.versionCalls.Load() != 1 {
		t.Fatalf("versions %+v after %d lookups", again, live.versionCalls.Load())
	}
	now = now.Add(2 * time.Hour)
	live.fail.Store(true)
	if _, err := c.KubernetesVersions(ctx); !errors.Is(err, ErrLiveUnavailable) {
		t.Fatalf("err = %v", err)
	}
	live.fail.Store(false)
	if _, err := c.KubernetesVersions(ctx); err != nil || live.versionCalls.Load() != 3 {
		t.Fatalf("err %v after %d lookups", err, live.versionCalls.Load())
	}
}

// Callers that miss the cache together share one lookup.
func TestCacheSharesALookup(t *testing.T) {
	live := &countingLive{gate: make(chan struct{})}
	c := NewCache(live, 0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if ms, err := c.MachineTypes(t.Context(), "us-east-1"); err != nil || len(ms) != 2 {
				t.Errorf("%v %v", ms, err)
			}
		})
	}
	// Wait until the one lookup has started, then let it answer.
	deadline := time.Now().Add(5 * time.Second)
	for live.typeCalls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(live.gate)
	wg.Wait()
	if n := live.typeCalls.Load(); n != 1 {
		t.Errorf("%d lookups for 8 concurrent callers, want 1", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c2 := NewCache(&countingLive{gate: make(chan struct{})}, 0)
	go func() { _, _ = c2.MachineTypes(t.Context(), "x") }() // holds the lookup
	for c2.live.(*countingLive).typeCalls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := c2.MachineTypes(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("a waiter whose context ends: %v", err)
	}
	close(c2.live.(*countingLive).gate)
}

// zonedLive is a countingLive that lists zones too; mars1 is a region it does not
// know.
type zonedLive struct {
	countingLive
	zoneCalls atomic.Int32
}

func (l *zonedLive) Zones(_ context.Context, region string) ([]string, error) {
	l.zoneCalls.Add(1)
	if region == "mars1" {
		return nil, ErrUnknownRegion
	}
	return []string{region + "a", region + "b"}, nil
}

// Zones are kept per region like machine types; a Live that lists none answers
// ErrLiveUnavailable, and a region the provider does not know is an error, not kept.
func TestCacheKeepsZones(t *testing.T) {
	live := &zonedLive{}
	c := NewCache(live, time.Hour)
	ctx := t.Context()
	for range 2 {
		zs, err := c.Zones(ctx, "us-east-1")
		if err != nil || len(zs) != 2 || zs[0] != "us-east-1a" {
			t.Fatalf("zones %v, %v", zs, err)
		}
		zs[0] = "changed"
	}
	if n := live.zoneCalls.Load(); n != 1 {
		t.Errorf("%d zone lookups for one region within the TTL, want 1", n)
	}
	for range 2 {
		if _, err := c.Zones(ctx, "mars1"); !errors.Is(err, ErrUnknownRegion) {
			t.Fatalf("unknown region: %v", err)
		}
	}
	if n := live.zoneCalls.Load(); n != 3 {
		t.Errorf("%d zone lookups, want the unknown region asked each time", n)
	}
	if _, err := NewCache(&countingLive{}, 0).Zones(ctx, "us-east-1"); !errors.Is(err, ErrLiveUnavailable) {
		t.Errorf("a live catalog without zones: %v", err)
	}
}

// regionedLive is a countingLive that lists the account's regions.
type regionedLive struct {
	countingLive
	regionCalls atomic.Int32
}

func (l *regionedLive) Regions(context.Context) ([]string, error) {
	l.regionCalls.Add(1)
	if l.fail.Load() {
		return nil, errors.New("throttled")
	}
	return []string{"eu-west-3", "us-east-1"}, nil
}

// Regions are kept for the TTL, a copy each time; a failure is not kept; a Live
// that lists none answers ErrLiveUnavailable.
func TestCacheKeepsRegions(t *testing.T) {
	live := &regionedLive{}
	now := time.Unix(0, 0)
	c := NewCache(live, time.Hour)
	c.now = func() time.Time { return now }
	ctx := t.Context()
	live.fail.Store(true)
	if _, err := c.Regions(ctx); err == nil {
		t.Fatal("a failing listing answered")
	}
	live.fail.Store(false)
	for range 2 {
		rs, err := c.Regions(ctx)
		if err != nil || len(rs) != 2 || rs[0] != "eu-west-3" {
			t.Fatalf("regions %v, %v", rs, err)
		}
		rs[0] = "changed"
	}
	if n := live.regionCalls.Load(); n != 2 {
		t.Errorf("%d region lookups, want 2 (the failure not kept, then cached)", n)
	}
	now = now.Add(time.Hour)
	if _, err := c.Regions(ctx); err != nil || live.regionCalls.Load() != 3 {
		t.Errorf("after the TTL: %v, %d lookups, want asked again", err, live.regionCalls.Load())
	}
	if _, err := NewCache(&countingLive{}, 0).Regions(ctx); !errors.Is(err, ErrLiveUnavailable) {
		t.Errorf("a live catalog without regions: %v", err)
	}
}

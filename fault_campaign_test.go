package miroir

// The randomized fault campaign of issue 12: two Cluster instances write,
// update and delete concurrently over 2 groups × 3 nodes (RF 2) while a
// seeded chaos loop stops, starts and slows nodes and makes them fail
// document tasks; background repair runs meanwhile. An oracle records
// every operation and whether it was acknowledged. At the end, faults
// healed and Repair run (from both instances at once), every replica of
// every shard must hold the same documents, and every key must hold what
// the oracle allows: no acknowledged document missing or stale, no
// acknowledged delete undone.
//
// Short by default; the long one:
//
//	go test -run TestFaultCampaign -campaign.long -timeout 30m .
//
// A failure prints the seed; -campaign.seed=N replays the same decisions.

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

var (
	campaignLong = flag.Bool("campaign.long", false, "run the long fault campaign (minutes)")
	campaignSeed = flag.Uint64("campaign.seed", 0, "seed of the fault campaign (0: a new one, printed)")
)

// campaignPlan sizes one campaign.
type campaignPlan struct {
	workers int // per instance
	ops     int // per worker
	keys    int // per worker (each worker owns its keys)
}

func TestFaultCampaign(t *testing.T) {
	plan := campaignPlan{workers: 2, ops: 40, keys: 12}
	if *campaignLong {
		plan = campaignPlan{workers: 3, ops: 600, keys: 60}
	}
	seed := *campaignSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("fault campaign seed %d (replay: -campaign.seed=%d)", seed, seed)
	ok := t.Run("campaign", func(t *testing.T) { runCampaign(t, seed, plan) })
	if !ok {
		t.Errorf("fault campaign failed with seed %d: go test -run TestFaultCampaign -campaign.seed=%d .", seed, seed)
	}
}

// keyState is one possible state of a key: absent, or a document.
type keyState struct {
	present bool
	doc     map[string]any // without internal fields
}

// keyOracle is what a key may hold: the state after its last certain
// operation, and every state an uncertain later one may have left.
type keyOracle struct {
	possible []keyState
}

// campaignOp is one operation a worker ran.
type campaignOp struct {
	key  string
	kind string // add, update, delete
	doc  map[string]any
	info *meilisearch.TaskInfo
	err  error
	inst int
}

// outcome is what op leaves when it applied, from state s.
func (op *campaignOp) outcome(s keyState) keyState {
	switch op.kind {
	case "delete":
		return keyState{}
	case "update": // partial update: merged into what is there
		m := map[string]any{}
		if s.present {
			for k, v := range s.doc {
				m[k] = v
			}
		}
		for k, v := range op.doc {
			m[k] = v
		}
		return keyState{present: true, doc: m}
	}
	return keyState{present: true, doc: op.doc}
}

func runCampaign(t *testing.T, seed uint64, plan campaignPlan) {
	f := startFleet(t, fleetSpec{groups: groupsOf(2, 3), rf: 2, shards: 8, instant: true,
		opts: []Option{WithRepair(50 * time.Millisecond), WithRepairRate(0), WithFleetRefresh(50 * time.Millisecond)}})
	opts2 := append([]Option{WithShards(8), WithReplicationFactor(2), WithRepair(50 * time.Millisecond),
		WithRepairRate(0), WithFleetRefresh(50 * time.Millisecond)}, quick.options()...)
	c2 := f.newCluster(t, opts2...)
	insts := []*Cluster{f.c, c2}
	f.create(t, "camp", "id")
	f.idle(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Chaos: seeded decisions, applied until the workers are done. One
	// node at a time is faulty (stopped, slowed, or failing its document
	// tasks) for a few steps; after healing it, the chaos waits until both
	// instances saw every task from before the heal end and no replica is
	// stale any more (background repair), so that every shard always keeps
	// an in-sync replica to repair from.
	done := make(chan struct{})
	var chaosWG sync.WaitGroup
	chaosWG.Add(1)
	var chaosLog []string
	var chaosErr error
	go func() {
		defer chaosWG.Done()
		rng := rand.New(rand.NewPCG(seed, 1))
		for {
			i, kind, hold := rng.IntN(len(f.srv)), rng.IntN(3), 2+rng.IntN(6)
			var clear func()
			switch kind {
			case 0:
				f.srv[i].Stop()
				chaosLog = append(chaosLog, fmt.Sprintf("stop %d", i))
			case 1:
				f.srv[i].SetLatency(time.Duration(5+rng.IntN(25)) * time.Millisecond)
				chaosLog = append(chaosLog, fmt.Sprintf("slow %d", i))
			case 2:
				clear = f.srv[i].FailTasks(func(r *http.Request) bool {
					return strings.HasPrefix(r.URL.Path, "/indexes/camp/documents")
				}, "internal")
				chaosLog = append(chaosLog, fmt.Sprintf("fail tasks %d", i))
			}
			stop := false
			for range hold {
				select {
				case <-done:
					stop = true
				case <-time.After(time.Duration(20+rng.IntN(60)) * time.Millisecond):
				}
				if stop {
					break
				}
			}
			switch kind {
			case 0:
				if err := f.srv[i].Start(); err != nil {
					chaosErr = err
					return
				}
			case 1:
				f.srv[i].SetLatency(0)
			case 2:
				clear()
			}
			if stop {
				return
			}
			if err := waitSettled(ctx, insts, "camp", i); err != nil {
				chaosErr = fmt.Errorf("after healing node %d (%s): %w", i, chaosLog[len(chaosLog)-1], err)
				return
			}
		}
	}()

	// Workers: each owns its keys, so a key's operations run in order.
	var mu sync.Mutex
	var ops []*campaignOp
	var wg sync.WaitGroup
	for inst := range insts {
		for w := range plan.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(100+inst*plan.workers+w)))
				ix := insts[inst].Index("camp")
				for n := range plan.ops {
					if ctx.Err() != nil {
						return
					}
					key := fmt.Sprintf("i%dw%dk%d", inst, w, rng.IntN(plan.keys))
					op := &campaignOp{key: key, inst: inst}
					switch r := rng.IntN(10); {
					case r < 5:
						op.kind, op.doc = "add", map[string]any{"id": key, "title": fmt.Sprintf("add %d", n), "n": n}
						op.info, op.err = ix.AddDocuments(ctx, []map[string]any{op.doc}, nil)
					case r < 8:
						op.kind, op.doc = "update", map[string]any{"id": key, "n": n, "u": true}
						op.info, op.err = ix.UpdateDocuments(ctx, []map[string]any{op.doc}, nil)
					default:
						op.kind = "delete"
						op.info, op.err = ix.DeleteDocument(ctx, key, nil)
					}
					mu.Lock()
					ops = append(ops, op)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(done)
	chaosWG.Wait()

	if chaosErr != nil {
		t.Fatalf("chaos: %v (%s)", chaosErr, strings.Join(chaosLog, ", "))
	}
	for i := range f.srv {
		for _, c := range insts {
			eventually(t, "node healthy", func() bool { return c.node(i).isHealthy() })
		}
	}
	f.idle(t)

	// Resolve the oracle: replay each key's operations with their final
	// task status (a failed cluster task may still have landed somewhere:
	// uncertain; a succeeded acknowledged one is certain).
	certain := map[string]bool{}
	oracle := map[string]*keyOracle{}
	byKey := map[string][]*campaignOp{}
	for _, op := range ops {
		byKey[op.key] = append(byKey[op.key], op)
	}
	acked, uncertain := 0, 0
	for key, kops := range byKey {
		possible := []keyState{{}}
		for _, op := range kops {
			applied, sure := false, false
			if op.err == nil && op.info != nil {
				acked++
				applied, sure = opApplied(ctx, t, insts[op.inst], op)
			}
			next := make([]keyState, 0, 2*len(possible))
			if !sure {
				uncertain++
				next = append(next, possible...)
			} else if !applied {
				next = append(next, possible...) // failed everywhere: no effect
			}
			if !sure || applied {
				for _, s := range possible {
					next = append(next, op.outcome(s))
				}
			}
			possible = dedupStates(next)
		}
		oracle[key] = &keyOracle{possible: possible}
		certain[key] = len(possible) == 1
	}

	// Repair from both instances at once, then until one pass is clean.
	var rwg sync.WaitGroup
	for _, c := range insts {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			if _, err := c.Repair(ctx, "camp"); err != nil && apiCode(err) != CodeRepairIncomplete {
				t.Errorf("concurrent Repair: %v", err)
			}
		}()
	}
	rwg.Wait()
	var rep *RepairReport
	var err error
	for range 3 {
		if rep, err = f.c.Repair(ctx, "camp"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("final Repair: %v (%+v)", err, rep)
	}

	docs := replicasIdentical(t, f, "camp")
	missing, stale, resurrected := 0, 0, 0
	for key, ko := range oracle {
		d, ok := docs[key]
		got := keyState{present: ok}
		if ok {
			got.doc = map[string]any{}
			for k, v := range d {
				if k != shardField && k != versionField {
					got.doc[k] = normalizeNumber(v)
				}
			}
		}
		if containsState(ko.possible, got) {
			continue
		}
		switch {
		case !ok:
			missing++
		case !ko.possible[0].present && len(ko.possible) == 1:
			resurrected++
		default:
			stale++
		}
		t.Errorf("key %s: holds %v, the oracle allows %v (ops: %s)", key, got, ko.possible, describeOps(byKey[key]))
	}
	for _, c := range insts {
		vr, err := c.Verify(ctx, "camp")
		if err != nil || !vr.Consistent() {
			t.Errorf("Verify after repair: %v %+v", err, vr)
		}
	}
	t.Logf("%d operations (%d acknowledged, %d uncertain) on %d keys (%d certain); chaos: %d actions; missing %d, stale %d, resurrected %d",
		len(ops), acked, uncertain, len(oracle), countTrue(certain), len(chaosLog), missing, stale, resurrected)
	if t.Failed() {
		t.Logf("chaos: %s", strings.Join(chaosLog, ", "))
	}
}

// opApplied tells from the node tasks of an acknowledged operation's
// cluster task whether it took effect: a node task of a replica of the
// key's shard succeeded (applied: repair spreads it), or every one failed
// (no effect); sure is false when neither is known.
func opApplied(ctx context.Context, t *testing.T, c *Cluster, op *campaignOp) (applied, sure bool) {
	t.Helper()
	if _, err := c.WaitForTask(ctx, op.info.TaskUID, 5*time.Millisecond); err != nil {
		t.Fatalf("waiting for task %d: %v", op.info.TaskUID, err)
	}
	ct, err := c.tasks.get(ctx, op.info.TaskUID)
	if err != nil {
		t.Fatalf("reading task %d: %v", op.info.TaskUID, err)
	}
	holders := map[string]bool{}
	for _, ni := range c.topo().writeTargets(ShardOf(op.key, c.topo().shards)) {
		holders[c.node(ni).ID] = true
	}
	failed := 0
	for _, nt := range ct.Nodes {
		if !holders[nt.Node] {
			continue
		}
		switch nt.Status {
		case meilisearch.TaskStatusSucceeded:
			return true, true
		case meilisearch.TaskStatusFailed, meilisearch.TaskStatusCanceled:
			failed++
		}
	}
	if len(ct.Nodes) == 0 {
		return false, false
	}
	return false, failed > 0 && failed == countHolders(ct.Nodes, holders)
}

func countHolders(nts []NodeTask, holders map[string]bool) int {
	n := 0
	for _, nt := range nts {
		if holders[nt.Node] {
			n++
		}
	}
	return n
}

// waitSettled waits until every instance sees node ni healthy, every
// cluster task it registered before now is final (its failures are
// marks), and no replica of uid is stale in its view of the fleet's
// marks (background repair cleared them).
func waitSettled(ctx context.Context, insts []*Cluster, uid string, ni int) error {
	marks := make([]int64, len(insts))
	for k, c := range insts {
		marks[k] = c.startVersion()
	}
	deadline := time.Now().Add(60 * time.Second)
	var why string
	for {
		settled := true
		for k, c := range insts {
			if !c.node(ni).isHealthy() {
				settled = false
				break
			}
			var open []int64
			_ = c.tasks.store.List(ctx, func(t *ClusterTask) bool {
				if t.UID < marks[k] && !t.Local && (t.Status == meilisearch.TaskStatusEnqueued || t.Status == meilisearch.TaskStatusProcessing) {
					open = append(open, t.UID)
				}
				return true
			})
			unfinished := false
			for _, u := range open {
				// Waiting on a task refreshes it, as a caller would.
				if t, err := c.tasks.get(ctx, u); err != nil || t.Status == meilisearch.TaskStatusEnqueued || t.Status == meilisearch.TaskStatusProcessing {
					unfinished = true
					why = fmt.Sprintf("instance %d task %d: %v %+v", k, u, err, t)
					break
				}
			}
			if unfinished {
				settled = false
				break
			}
			if _, err := c.readMarks(ctx, uid); err != nil || len(c.staleReplicas(uid)) > 0 {
				why = fmt.Sprintf("instance %d: marks %v, stale %v", k, err, c.staleReplicas(uid))
				settled = false
				break
			}
		}
		if settled {
			return nil
		}
		if time.Now().After(deadline) {
			var st []string
			for _, c := range insts {
				st = append(st, fmt.Sprint(c.staleReplicas(uid)))
			}
			// Why: what a repair now says.
			rep, err := insts[0].Repair(ctx, uid)
			why += fmt.Sprintf("; Repair now: %v %+v", err, rep)
			return fmt.Errorf("not settled within 60s (stale: %s; %s)", strings.Join(st, " / "), why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func countTrue(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// normalizeNumber makes a JSON number read back from a node comparable
// with the int the oracle recorded.
func normalizeNumber(v any) any {
	if f, ok := v.(float64); ok && f == float64(int(f)) {
		return int(f)
	}
	return v
}

func dedupStates(in []keyState) []keyState {
	var out []keyState
	for _, s := range in {
		if !containsState(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func containsState(list []keyState, s keyState) bool {
	for _, x := range list {
		if x.present == s.present && (!s.present || reflect.DeepEqual(x.doc, s.doc)) {
			return true
		}
	}
	return false
}

func describeOps(ops []*campaignOp) string {
	var b strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&b, "[%s %v err=%v", op.kind, op.doc, op.err)
		if op.info != nil {
			fmt.Fprintf(&b, " task=%d", op.info.TaskUID)
		}
		b.WriteString("] ")
	}
	return b.String()
}

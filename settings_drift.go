package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/meilisearch/meilisearch-go"
)

// ---- drift and repair ----

// SettingsDrift reports how the nodes' settings of one index differ.
type SettingsDrift struct {
	// Index is the index compared.
	Index string `json:"index"`
	// Nodes lists the IDs of the nodes whose settings were read, in fleet
	// order.
	Nodes []string `json:"nodes"`
	// Unreadable maps the nodes whose settings could not be read to why.
	Unreadable map[string]string `json:"unreadable,omitempty"`
	// Settings maps each setting on which the nodes disagree
	// (Meilisearch's name, e.g. "rankingRules") to how they disagree.
	Settings map[string]SettingDrift `json:"settings,omitempty"`
}

// SettingDrift is the disagreement on one setting.
type SettingDrift struct {
	// Majority is the value most nodes hold (ties: the value this Cluster
	// last wrote, else the first node's in fleet order).
	Majority json.RawMessage `json:"majority"`
	// Nodes lists the IDs of the nodes that differ from the majority.
	Nodes []string `json:"nodes"`
	// Values maps each of those nodes to its own value.
	Values map[string]json.RawMessage `json:"values"`
}

// Drifted reports whether some node's settings differ from the others'.
func (d *SettingsDrift) Drifted() bool { return d != nil && len(d.Settings) > 0 }

// DriftedNodes lists the nodes that differ from the majority on some
// setting, sorted.
func (d *SettingsDrift) DriftedNodes() []string {
	if d == nil {
		return nil
	}
	var out []string
	for _, s := range d.Settings {
		for _, n := range s.Nodes {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// String summarises the drift, one setting per line.
func (d *SettingsDrift) String() string {
	if d == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "index %s: ", d.Index)
	if !d.Drifted() {
		b.WriteString("no drift")
	} else {
		fmt.Fprintf(&b, "%d setting(s) drifted", len(d.Settings))
	}
	for _, id := range sortedMapKeys(d.Unreadable) {
		fmt.Fprintf(&b, "\n  node %s unreadable: %s", id, d.Unreadable[id])
	}
	for _, k := range sortedMapKeys(d.Settings) {
		s := d.Settings[k]
		fmt.Fprintf(&b, "\n  %s: majority %s", k, s.Majority)
		for _, id := range s.Nodes {
			fmt.Fprintf(&b, "; node %s has %s", id, s.Values[id])
		}
	}
	return b.String()
}

func sortedMapKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// SettingsDrift reads the settings of index on every node and reports,
// per setting, which nodes differ from the majority. Values are shown as
// the nodes hold them (with _miroir_shard; embedder API keys, which nodes
// mask, are not compared). Unreachable nodes are listed, not compared; the
// call fails only when no node could be read.
func (c *Cluster) SettingsDrift(ctx context.Context, index string) (_ *SettingsDrift, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "settingsDrift", index)
		defer func() { cs.end(err) }()
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	tp := c.topo()
	if _, err := c.state(ctx, index); err != nil {
		return nil, err
	}
	e := c.settingsTx()
	snaps := make([]rawSettings, len(tp.clients))
	errs := c.fanout(ctx, tp.members, func(ctx context.Context, n *node) error {
		s, err := e.readNode(ctx, n, index)
		snaps[n.idx] = s
		return err
	})
	d := &SettingsDrift{Index: index}
	var firstErr error
	for i, n := range tp.members {
		if errs[i] != nil {
			if d.Unreadable == nil {
				d.Unreadable = map[string]string{}
			}
			d.Unreadable[n.ID] = errText(errs[i])
			firstErr = cmpErr(firstErr, errs[i])
			continue
		}
		d.Nodes = append(d.Nodes, n.ID)
	}
	if len(d.Nodes) == 0 {
		return nil, fmt.Errorf("miroir: no node's settings of index %q could be read: %w", index, firstErr)
	}
	keys := map[string]bool{}
	for _, s := range snaps {
		for k := range s {
			keys[k] = true
		}
	}
	cached := e.cachedRaw(index)
	for _, k := range sortedMapKeys(keys) {
		m := majorityValue(k, snaps, cached)
		var sd *SettingDrift
		for i, s := range snaps {
			if s == nil {
				continue
			}
			v, ok := s[k]
			if !ok {
				v = json.RawMessage("null")
			}
			if canonSetting(k, v) == m.canon {
				continue
			}
			if sd == nil {
				sd = &SettingDrift{Majority: m.value, Values: map[string]json.RawMessage{}}
			}
			id := tp.clients[i].ID
			sd.Nodes = append(sd.Nodes, id)
			sd.Values[id] = v
		}
		if sd != nil {
			if d.Settings == nil {
				d.Settings = map[string]SettingDrift{}
			}
			d.Settings[k] = *sd
		}
	}
	return d, nil
}

// RepairSettings brings every node of index to the same settings through
// a settings transaction (snapshot, apply node by node, roll back on
// failure): to want where want sets a value (_miroir_shard is kept
// filterable), to the majority's value for every other setting (want nil:
// the majority for all). Only the nodes that differ are changed. It
// returns a cluster-local settingsUpdate task at once.
func (c *Cluster) RepairSettings(ctx context.Context, index string, want *meilisearch.Settings) (*meilisearch.TaskInfo, error) {
	op := &settingsOp{repair: true}
	if want != nil {
		b, err := json.Marshal(want)
		if err != nil {
			return nil, err
		}
		body, err := prepareSettingsBody("", b)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(body, &op.want); err != nil {
			return nil, err
		}
	}
	return c.submitSettings(ctx, index, op, false)
}

// verifyNodeSettings checks, before node n receives writes for st again
// (it came back from being unhealthy, or was never verified), that its
// settings equal the fleet's: the majority of the other nodes that can be
// read (or, when none can, the settings this Cluster last saw). When they
// differ, n alone is repaired through a settings transaction (recorded as
// a settingsUpdate cluster task) and the call waits for it; an error means
// n must not receive writes yet.
func (c *Cluster) verifyNodeSettings(ctx context.Context, st *indexState, n *node) error {
	tp := c.topo()
	e := c.settingsTx()
	mine, err := e.readNode(ctx, n, st.uid)
	if err != nil {
		return err
	}
	var peers []*node
	for _, p := range tp.members {
		if p != n && p.isHealthy() {
			peers = append(peers, p)
		}
	}
	snaps := make([]rawSettings, len(tp.clients))
	c.fanout(ctx, peers, func(ctx context.Context, p *node) error {
		s, err := e.readNode(ctx, p, st.uid)
		snaps[p.idx] = s
		return err
	})
	cached := e.cachedRaw(st.uid)
	if !slices.ContainsFunc(snaps, func(s rawSettings) bool { return s != nil }) {
		if cached == nil {
			return nil // nothing to compare with: n is the fleet's only voice
		}
		snaps = []rawSettings{cached}
	}
	ref := majoritySettings(snaps, cached)
	same := true
	for k, v := range ref {
		if !settingEqual(k, mine[k], v) {
			same = false
			break
		}
	}
	if same {
		return nil
	}
	c.opts.logger.Warn("miroir: node settings differ from the fleet's, repairing", "node", n.ID, "index", st.uid)
	op := &settingsOp{repair: true, only: n, done: make(chan error, 1)}
	lt, err := c.tasks.newLocal(ctx, st.uid, meilisearch.TaskTypeSettingsUpdate, meilisearch.Details{})
	if err != nil {
		return err
	}
	// Run here, not through the index's queue: the caller holds the
	// index's turn (a write verifying its targets, sequence.go), so no
	// other settings transaction of the index runs, and a queued one waits
	// for that turn: queueing behind it would deadlock.
	e.runJob(&settingsJob{uid: st.uid, op: op, task: lt})
	return <-op.done
}

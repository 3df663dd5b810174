package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
)

// One pass over one shard's replicas (DESIGN §12 rules 4 and 5), shared by
// Repair and Verify.
//
// The pass walks the union of the documents the replicas hold, once per
// document and in bounded memory: each replica in turn lists its
// (id, _miroir_v) pairs of the shard page by page, the page's ids are
// looked up on every other replica, and a document is judged on the page
// of the first replica (in pass order) that holds it. Judging one document:
//
//   - the truth is the highest version among the in-sync replicas holding
//     it (last write wins; present wins over absent among in-sync ones);
//   - an in-sync replica lacking it or holding an older version gets the
//     truth copied;
//   - a stale replica takes the truth exactly: copied when it lacks it or
//     holds any other version, deleted when no in-sync replica holds it;
//   - except that a stale replica's copy ahead of the truth (newer than
//     every in-sync copy, or held by it alone and written after its last
//     missed write or after the pass began) is a write the others have not
//     processed yet: it is left alone, and does not keep the replica stale.
//
// Copies fetch whole documents by id from the replica holding the truth
// and send them raw (POST: replaced, not merged), _miroir_shard and
// _miroir_v included, so a repaired replica holds what its source holds.

// replicaTally is what one round found and did on one replica.
type replicaTally struct {
	Documents int // documents the replica listed for the shard
	Missing   int // the truth present, the replica lacking it
	Extra     int // held by the replica only (no in-sync replica holds it)
	Older     int // the replica's version below the truth's
	Newer     int // a stale replica's version above the truth's
	Copied    int
	Bytes     int64 // size of the documents copied
	Deleted   int
	Racing    int // left alone: written after the pass started
	// Unsettled: documents this round acted on that a look-up right
	// after did not find matching the truth (a write raced the copy).
	Unsettled int
}

// differs reports whether the round found the replica unlike the truth.
func (t replicaTally) differs() bool {
	return t.Missing+t.Extra+t.Older+t.Newer+t.Racing > 0
}

// settled reports whether, after a round that acted, the replica holds
// every write it missed: whatever it lacked or held older was fixed and
// checked. Copies it holds ahead of the truth (Racing: writes the others
// have not processed yet, or failed unseen, which will mark them) do not
// keep it stale: it is ahead, not behind.
func (t replicaTally) settled() bool { return t.Unsettled == 0 }

// shardPass is one pass over one shard.
type shardPass struct {
	c       *Cluster
	uid, pk string
	shard   int
	reps    []*node          // reachable replicas, in-sync ones first
	stale   []bool           // per reps
	missed  []map[int64]bool // per reps: the versions of its marks
	vStart  int64            // versions at or above it were written during the pass
	act     bool             // repair (copy, delete) or only count (Verify)
	// converge: in-sync replicas that differ are judged and converged
	// too; otherwise only the stale replicas are (the background repair:
	// a difference between in-sync replicas may be a failed node task
	// nobody has looked at yet, which a merge would undo).
	converge bool
	vectors  bool   // the index has embedders: copies carry _vectors
	pace     *pacer // nil: full speed
	maxSeen  int64  // highest version seen, for the allocator
	tally    []replicaTally
	// copied holds, per reps, the version of every document this pass
	// copied there: a copy lands after the source was read, so a
	// deletion (or a write) applied to both replicas in between is undone
	// on the target by the copy; the pass then recognizes its own copy.
	copied []map[string]int64
	onCopy copyHook
}

// inSyncCount is how many reps are in sync.
func (p *shardPass) inSyncCount() int {
	n := 0
	for _, s := range p.stale {
		if !s {
			n++
		}
	}
	return n
}

// round walks the shard once; tally holds what it found and did.
func (p *shardPass) round(ctx context.Context) error {
	p.tally = make([]replicaTally, len(p.reps))
	for j := range p.reps {
		if err := p.walk(ctx, j); err != nil {
			return err
		}
	}
	return nil
}

// walk lists replica j's documents of the shard and judges every page.
func (p *shardPass) walk(ctx context.Context, j int) error {
	offset := 0
	for {
		if err := p.pace.wait(ctx, repairPageSize/listCost); err != nil {
			return err
		}
		page, err := listShardPage(ctx, p.reps[j], p.uid, p.pk, p.shard, offset, repairPageSize)
		if err != nil {
			return fmt.Errorf("listing shard %d on node %s: %w", p.shard, p.reps[j].ID, err)
		}
		p.tally[j].Documents += len(page)
		removed, err := p.judgePage(ctx, j, page)
		if err != nil {
			return err
		}
		if len(page) < repairPageSize {
			return nil
		}
		// Documents this page deleted from j shift its later pages back.
		offset += len(page) - removed
	}
}

// judgePage looks page's ids up on the other replicas, judges each
// document not held by an earlier replica, and (acting) applies the
// copies and deletions. It returns how many documents it deleted from
// replica j.
func (p *shardPass) judgePage(ctx context.Context, j int, page []docVersion) (int, error) {
	if len(page) == 0 {
		return 0, nil
	}
	ids := make([]string, len(page))
	vers := make([]map[string]int64, len(p.reps))
	vers[j] = make(map[string]int64, len(page))
	for i, d := range page {
		ids[i] = d.id
		vers[j][d.id] = d.v
	}
	errs := parallel(len(p.reps), len(p.reps), func(i int) error {
		if i == j {
			return nil
		}
		m, err := lookupVersions(ctx, p.reps[i], p.uid, p.pk, ids)
		if err != nil {
			return fmt.Errorf("looking up shard %d on node %s: %w", p.shard, p.reps[i].ID, err)
		}
		vers[i] = m
		return nil
	})
	if err := firstError(errs); err != nil {
		return 0, err
	}
	plan := newRepairPlan(len(p.reps))
	for _, id := range ids {
		if p.heldEarlier(vers, j, id) {
			continue
		}
		p.judge(plan, vers, id, p.act)
	}
	if !p.act {
		return 0, nil
	}
	return p.apply(ctx, plan, j)
}

// heldEarlier reports whether a replica before j holds id: the document
// was judged on that replica's pages.
func (p *shardPass) heldEarlier(vers []map[string]int64, j int, id string) bool {
	for i := range j {
		if _, ok := vers[i][id]; ok {
			return true
		}
	}
	return false
}

// judge decides what document id needs, given every replica's version.
//
// suspect (repairing, not re-checking its own copies) also copies to a
// stale replica a document of the truth's version written at or after the
// first write the replica missed: a partial update (UpdateDocuments)
// merged into a base the replica lacked has the right version and the
// wrong content. Written after the pass started too: such an update made
// while the pass runs is as wrong, and the pass clears the marks that
// would have caught it.
func (p *shardPass) judge(plan *repairPlan, vers []map[string]int64, id string, suspect bool) {
	allStale := p.inSyncCount() == 0
	src, truth := -1, int64(-1)
	for i := range p.reps {
		v, ok := vers[i][id]
		if ok {
			p.maxSeen = max(p.maxSeen, v)
		}
		if !ok || (!allStale && p.stale[i]) {
			continue
		}
		// Among equal versions, the copy of the replica that missed
		// nothing before it (its content cannot rest on a missing base).
		if v > truth || (v == truth && p.firstMissed(i) > p.firstMissed(src)) {
			src, truth = i, v
		}
	}
	if allStale && src >= 0 {
		// No in-sync replica: the newest copy is the truth unless a
		// replica lacks the document without having missed the write
		// that made that copy: it applied a later deletion the holders
		// missed.
		for i := range p.reps {
			if _, held := vers[i][id]; !held && !p.missed[i][truth] {
				src = -1
				break
			}
		}
	}
	for i := range p.reps {
		if !p.converge && !p.stale[i] {
			continue
		}
		v, held := vers[i][id]
		t := &p.tally[i]
		switch {
		case src < 0: // no in-sync replica (or, all stale, no truth) holds it
			if !held {
				continue
			}
			if !p.act {
				t.Extra++ // Verify: counted, whatever repair would do
				continue
			}
			// Deleted only when the replica missed a write made after
			// its copy (maybe the deletion): otherwise the others may
			// not have processed, or may have failed, a write it got.
			// Unless this pass put that very copy there: then the truth
			// lost it after the source was read (a racing deletion).
			if (v >= p.vStart || p.lastMissed(i) <= v) && !p.ownCopy(i, id, v) {
				t.Racing++
				continue
			}
			t.Extra++
			plan.del[i] = append(plan.del[i], id)
		case i == src:
		case !held:
			t.Missing++
			plan.copy(src, i, id)
		case v == truth && suspect && p.stale[i] && v >= p.firstMissed(i):
			t.Older++
			plan.copy(src, i, id)
		case v == truth:
		case v < truth:
			t.Older++
			plan.copy(src, i, id)
		case !p.stale[i]: // cannot happen: truth is the in-sync maximum
		default:
			// A stale replica ahead of every in-sync one: a write the
			// others have not processed yet (or failed, which will mark
			// them). Left alone; the replica stays stale meanwhile.
			t.Newer++
			t.Racing++
		}
	}
}

// lastMissed is the version of the last write replica i missed (0:
// none).
func (p *shardPass) lastMissed(i int) int64 {
	var last int64
	for v := range p.missed[i] {
		last = max(last, v)
	}
	return last
}

// firstMissed is the version of the first write replica i missed
// (math.MaxInt64: none, or i < 0).
func (p *shardPass) firstMissed(i int) int64 {
	first := int64(math.MaxInt64)
	if i < 0 || i >= len(p.missed) {
		return first
	}
	for v := range p.missed[i] {
		first = min(first, v)
	}
	return first
}

// repairPlan is what one page needs: ids to copy per (source, target)
// and ids to delete per target.
type repairPlan struct {
	copies map[[2]int][]string
	del    [][]string
}

func newRepairPlan(n int) *repairPlan {
	return &repairPlan{copies: map[[2]int][]string{}, del: make([][]string, n)}
}

func (pl *repairPlan) copy(src, dst int, id string) {
	k := [2]int{src, dst}
	pl.copies[k] = append(pl.copies[k], id)
}

// apply runs the plan: copies (fetched whole from their source and sent
// in chunks of repairCopyBatch), then deletions, then a look-up of every
// document acted on, judged again: what still differs is unsettled (a
// write raced the copy) and keeps the replica out of sync for this round.
// It returns how many documents were deleted from replica j.
func (p *shardPass) apply(ctx context.Context, pl *repairPlan, j int) (int, error) {
	acted := map[string]struct{}{}
	for k, ids := range pl.copies {
		src, dst := p.reps[k[0]], p.reps[k[1]]
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), repairCopyBatch)]
			ids = ids[len(chunk):]
			if err := p.pace.wait(ctx, len(chunk)); err != nil {
				return 0, err
			}
			docs, err := fetchWhole(ctx, src, p.uid, chunk, p.vectors)
			if err != nil {
				return 0, fmt.Errorf("fetching shard %d documents from node %s: %w", p.shard, src.ID, err)
			}
			for _, id := range chunk {
				acted[id] = struct{}{}
			}
			if len(docs) == 0 {
				continue // deleted on the source meanwhile: judged again below
			}
			if err := putRaw(ctx, dst, p.uid, p.pk, docs); err != nil {
				return 0, fmt.Errorf("copying shard %d documents to node %s: %w", p.shard, dst.ID, err)
			}
			p.remember(k[1], src, docs)
			p.tally[k[1]].Copied += len(docs)
			for _, d := range docs {
				p.tally[k[1]].Bytes += int64(len(d))
			}
		}
	}
	removed := 0
	for i, ids := range pl.del {
		if len(ids) == 0 {
			continue
		}
		if err := p.pace.wait(ctx, len(ids)); err != nil {
			return 0, err
		}
		if err := deleteIDs(ctx, p.reps[i], p.uid, ids); err != nil {
			return 0, fmt.Errorf("deleting shard %d documents on node %s: %w", p.shard, p.reps[i].ID, err)
		}
		for _, id := range ids {
			acted[id] = struct{}{}
		}
		p.tally[i].Deleted += len(ids)
		if i == j {
			removed = len(ids)
		}
	}
	return removed, p.recheck(ctx, acted)
}

// recheck looks the documents acted on up on every replica and judges
// them again; what would still need an action counts as unsettled.
func (p *shardPass) recheck(ctx context.Context, acted map[string]struct{}) error {
	if len(acted) == 0 {
		return nil
	}
	ids := make([]string, 0, len(acted))
	for id := range acted {
		ids = append(ids, id)
	}
	vers := make([]map[string]int64, len(p.reps))
	errs := parallel(len(p.reps), len(p.reps), func(i int) error {
		m, err := lookupVersions(ctx, p.reps[i], p.uid, p.pk, ids)
		if err != nil {
			return fmt.Errorf("checking shard %d on node %s: %w", p.shard, p.reps[i].ID, err)
		}
		vers[i] = m
		return nil
	})
	if err := firstError(errs); err != nil {
		return err
	}
	saved := p.tally
	p.tally = make([]replicaTally, len(p.reps))
	plan := newRepairPlan(len(p.reps))
	for _, id := range ids {
		p.judge(plan, vers, id, false)
	}
	again := p.tally
	p.tally = saved
	for i, t := range again {
		p.tally[i].Unsettled += t.Missing + t.Extra + t.Older
	}
	return nil
}

// remember records the versions of docs, copied from src to reps[i].
func (p *shardPass) remember(i int, src *node, docs []json.RawMessage) {
	vers, err := versionsOf(src, p.pk, docs)
	if err != nil {
		return
	}
	if p.copied == nil {
		p.copied = make([]map[string]int64, len(p.reps))
	}
	if p.copied[i] == nil {
		p.copied[i] = map[string]int64{}
	}
	for _, dv := range vers {
		p.copied[i][dv.id] = dv.v
		if p.onCopy != nil {
			p.onCopy(p.shard, p.reps[i], dv.id, dv.v)
		}
	}
}

// ownCopy reports whether reps[i] holds id at version v because this pass
// copied it there.
func (p *shardPass) ownCopy(i int, id string, v int64) bool {
	if i >= len(p.copied) {
		return false
	}
	cv, ok := p.copied[i][id]
	return ok && cv == v
}

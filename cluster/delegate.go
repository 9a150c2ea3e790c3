package cluster

import (
	"log/slog"
	"slices"
	"strings"

	"github.com/hashicorp/memberlist"
)

// Messages a node sends another over memberlist (SendReliable).
const msgKeys byte = 1

// delegate is the node's side of memberlist: it carries the RAM key set in
// push/pull and hears of members coming and going. memberlist calls the
// event methods with its own locks held, so they only touch the node's
// state and never call back into memberlist.
type delegate struct{ n *Node }

// NodeMeta advertises where this node's links listen.
func (d *delegate) NodeMeta(limit int) []byte {
	if len(d.n.linkAddr) > limit {
		return nil
	}
	return []byte(d.n.linkAddr)
}

func (d *delegate) NotifyMsg(b []byte) {
	if len(b) == 0 || b[0] != msgKeys {
		d.n.log.Warn("cluster: unknown memberlist message dropped")
		return
	}
	d.mergeKeys(b[1:])
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState is the whole key set (a joining node receives it inside Join)
// and this node's file and env key fingerprints.
func (d *delegate) LocalState(join bool) []byte { return d.n.encodeState() }

func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	keys, sender, fps, err := decodeState(buf)
	if err != nil {
		d.n.log.Error("cluster: a peer sent a state that does not decode", "err", err)
		return
	}
	d.merge(keys)
	for _, id := range d.n.fps.compare(sender, fps) {
		d.n.log.Error("cluster: a key file or variable differs from a peer's; tokens made with it verify on some nodes only",
			"peer", sender, "host", id.host, "key", id.name)
		if d.n.hooks.KeyMismatch != nil {
			d.n.hooks.KeyMismatch(sender, id.host, id.name)
		}
	}
}

func (d *delegate) mergeKeys(buf []byte) {
	remote, err := decodeKeys(buf)
	if err != nil {
		d.n.log.Error("cluster: a peer sent a key set that does not decode", "err", err)
		return
	}
	d.merge(remote)
}

func (d *delegate) merge(remote map[keyID]ramKey) {
	for _, id := range d.n.keys.merge(remote) {
		if remote[id].prev != nil {
			d.n.log.Info("cluster: a RAM key was rotated; the old one verifies until its tokens expire", "host", id.host, "key", id.name)
			if d.n.hooks.KeyReplaced != nil {
				d.n.hooks.KeyReplaced(id.host, id.name)
			}
			continue
		}
		d.n.log.Warn("cluster: a RAM key was replaced by an older one from another part of the cluster; tokens minted with the old one no longer verify",
			"host", id.host, "key", id.name)
		if d.n.hooks.KeyReplaced != nil {
			d.n.hooks.KeyReplaced(id.host, id.name)
		}
	}
}

func (d *delegate) NotifyJoin(m *memberlist.Node)   { d.remember(m) }
func (d *delegate) NotifyUpdate(m *memberlist.Node) { d.remember(m) }

func (d *delegate) remember(m *memberlist.Node) {
	c := member{addr: slices.Clone(m.Addr), port: m.Port, meta: string(m.Meta)}
	d.n.memMu.Lock()
	if m.Name == d.n.name {
		d.n.self = c
	} else {
		d.n.members[m.Name] = c
	}
	d.n.memMu.Unlock()
	d.n.nudge()
}

// NotifyLeave forgets a node that left or died, and drops its sessions.
// A node that stopped unbound its sessions before it left; those still
// bound died with it, and the server is told (Hooks.SessionsLost).
func (d *delegate) NotifyLeave(m *memberlist.Node) {
	if m.Name == d.n.name {
		return
	}
	d.n.memMu.Lock()
	delete(d.n.members, m.Name)
	d.n.memMu.Unlock()
	gone := d.n.dir.drop(m.Name)
	d.n.sessMu.Lock()
	gone = slices.DeleteFunc(gone, func(b Binding) bool { _, here := d.n.local[b.JID]; return here })
	d.n.sessMu.Unlock()
	if len(gone) > 0 {
		d.n.log.Warn("cluster: a node went without unbinding its sessions; they are dropped", "peer", m.Name, "sessions", len(gone))
		if d.n.hooks.SessionsLost != nil {
			d.n.hooks.SessionsLost(m.Name, gone)
		}
	}
	d.n.closeLinksOf(m.Name)
	d.n.closeOutbox(m.Name)
	d.n.replayDown.forget(m.Name)
	d.n.nudge()
}

// memberlistLog turns memberlist's "[LEVEL] memberlist: text" lines into
// slog records. memberlist never logs key material.
type memberlistLog struct{ log *slog.Logger }

func (w *memberlistLog) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for prefix, l := range map[string]slog.Level{"[DEBUG]": slog.LevelDebug, "[INFO]": slog.LevelInfo, "[WARN]": slog.LevelWarn, "[ERR]": slog.LevelError} {
		if strings.HasPrefix(line, prefix) {
			level, line = l, strings.TrimSpace(strings.TrimPrefix(line, prefix))
			break
		}
	}
	// memberlist reports at INFO what is routine for a cluster, and at ERR
	// the sends that race its own shutdown; keep the server's log for what
	// needs a reader.
	if level == slog.LevelInfo || strings.Contains(line, "use of closed network connection") {
		level = slog.LevelDebug
	}
	w.log.Log(nil, level, line)
	return len(p), nil
}

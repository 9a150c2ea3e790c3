// Package cluster lets several xtokend processes serve the same virtual
// hosts as one server. It is built on hashicorp/memberlist, which keeps the
// list of live nodes (SWIM gossip with failure detection) and carries a small
// shared state between them, and on one TLS link from each node to every
// other for the traffic that needs an answer or an order.
//
// # What the cluster shares
//
//   - RAM keys. mod_keystore's keys of type "ram" are the cluster's, not a
//     node's: one key per (host, name), alive as long as any node is. The
//     first node generates them; a joining node receives them inside
//     memberlist's Join (push/pull through the Delegate) and generates only
//     those the cluster lacks (a host added to its configuration). When two
//     sets meet (two nodes that started apart, a partition older than
//     memberlist's memory of the dead), every node keeps, per (host, name),
//     the key created first, ties broken by a random 128-bit id, so all end
//     on the same one; Hooks.KeyReplaced tells a node whose key lost. Keys
//     live in memory only, are never logged, and are wiped on Stop. Node.Ready
//     is closed once the node has joined (and holds every peer's sessions)
//     or started alone: before that RAMKey answers false, and nothing may
//     verify or mint.
//
//   - Replay protection. Each user (host, node) has two owner nodes, the top
//     two of a rendezvous hash over the live members. CheckAndRemember asks
//     both whether a token id is new, and remembers it there until it
//     expires, so a token used on one node is refused on every other. An
//     owner that does not answer within a quarter of a second (a crashed
//     node memberlist has not yet declared dead) is replaced by the next
//     member in the ranking, so logins go on without opening a replay;
//     neither owner answering fails the check. See CheckAndRemember for the
//     window that remains.
//
//   - Where sessions are. Each node tells every other which full JIDs are
//     bound on it (Bind, Unbind) and, for each, whether its broadcast
//     presence made it available and with which priority (SetAvailability),
//     over its link: a snapshot when the link comes up, then each change in
//     order. Lookup and Bindings answer from memory, so a node routes a
//     message for a bare JID only to nodes that have an available resource
//     of non-negative priority, and answers as a single server when none
//     has. When memberlist declares a node gone, its sessions go with it,
//     so stanzas for them get service-unavailable rather than vanish. One
//     full JID bound on two nodes is a resource conflict: the newer bind
//     stays, and the node of the older one is told through Hooks.Conflict.
//
//   - Stanzas. Route sends a stanza's bytes to another node, whose
//     Hooks.Stanza delivers it. Route never waits: each peer has a bounded
//     queue drained in order by its own goroutine, so a slow or stuck node
//     fills its own queue (Route then answers ErrQueueFull) and delays no
//     one else. RouteSole marks a stanza no other node was given, so the
//     receiving node (Hooks.SoleStanza) answers for it when it reaches no
//     one there. The receiving node acknowledges the stanzas it handed to
//     its hooks; one that never got there (queued when the peer was
//     declared dead, or on a link that died before the acknowledgement)
//     comes back through Hooks.Undelivered, so the server can answer its
//     sender rather than lose it unsaid. When a node is declared dead
//     without having unbound its sessions (a crash), Hooks.SessionsLost
//     names them, so the server can send their unavailable presence.
//
// What is not shared: file and env keys (each node reads its own; AnnounceKey
// makes a node whose copy differs from a peer's log an error), the
// configuration, TLS certificates, the admin socket and metrics (per node).
//
// # Security
//
// Everything between nodes is encrypted and authenticated with keys derived
// (HKDF-SHA256) from the 32-byte cluster secret in secret_file: memberlist's
// gossip and its TCP push/pull with AES-256-GCM, the links with TLS 1.3
// where both sides prove they hold an Ed25519 key derived from the secret.
// A process without the secret can neither join, nor read, nor be linked to.
// Anyone with the secret is a full member: guard it like a key file.
//
// # Partitions
//
// memberlist does not stop a partition from being two clusters. Each side
// keeps serving with the keys it had (they are the same on both sides, so
// tokens minted on one side verify on the other), each side picks its own
// replay owners (a token can be used once on each side), and each side sees
// the other's sessions as gone (stanzas across get service-unavailable).
// When the network heals within memberlist's GossipToTheDeadTime the sides
// merge by themselves; after that, every node retries, every few seconds,
// the seeds it does not see as members, so the sides merge as soon as one
// reaches a seed on the other. A node that could reach none of its seeds at
// start waits join_timeout, then starts alone (logged as a warning): two
// nodes that both did so meet later with different keys, and the merge rule
// above makes tokens minted with the newer set stop verifying.
//
// # Wiring
//
// The server (xtokend/server) starts a node with the [cluster]
// options and, in Hooks, the RAM keys its hosts want and the function that
// takes routed stanzas; waits for Ready before opening the keystores with
// RAMKey as the source of their RAM keys (keystore.NewWithRAM); hands the
// node to the token verifiers as their replay check (sasl.NewSharedVerifier:
// *Node is a sasl.SharedReplay); calls Bind and Unbind as sessions come and
// go, SetAvailability as their broadcast presence changes, and Lookup,
// Bindings and Route for recipients not bound locally;
// announces its file and env keys with AnnounceKey at start and after each
// reload; rebuilds a host's verifier on KeyReplaced; closes a session on
// Conflict; answers the senders of Undelivered stanzas; sends the
// unavailable presence of SessionsLost sessions; and calls Stop on
// shutdown, after its sessions got their system-shutdown stream error.
package cluster

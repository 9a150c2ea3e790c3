package cluster

import "context"

// ShareFAST sends a FAST token event (XEP-0484: a token issued, used or
// revoked; the server encodes it, this package only carries it) to every
// live peer, whose Hooks.FAST gets it, and returns the peers it could not
// reach. FAST tokens live in the nodes' RAM only: a node that joins later
// learns the tokens issued from then on, and a token a peer missed is
// refused there (the client logs in with its other credentials).
func (n *Node) ShareFAST(ctx context.Context, event []byte) (unreached []string) {
	return n.sendAll(ctx, (&frame{kind: kindFAST, fast: event}).encode(), "a FAST token event")
}

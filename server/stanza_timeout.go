package server

import "time"

// DefaultStanzaTimeout is limits.stanza_timeout when it is not set.
const DefaultStanzaTimeout = 30 * time.Second

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/xtokend/xtokend/config"
)

// printCluster prints the [cluster] section as the server will run it,
// defaults filled in. The secret file is named, its content never shown
// (check-config has already read and checked it).
func printCluster(w io.Writer, cfg *config.Config) {
	o, ok := cfg.ClusterOptions()
	if !ok {
		return
	}
	join := "(none: starts a new cluster)"
	if len(o.Join) > 0 {
		join = strings.Join(o.Join, " ")
	}
	fmt.Fprintf(w, "cluster: node_name %s, bind %s, advertise %s, join %s\n", o.NodeName, o.Bind, orNone(o.Advertise), join)
	fmt.Fprintf(w, "  link_listen %s, link_advertise %s, join_timeout %s, replay_max %d, secret_file %s\n",
		o.LinkListen, orNone(o.LinkAdvertise), o.JoinTimeout.Duration, o.ReplayMax, o.SecretFile)
}
